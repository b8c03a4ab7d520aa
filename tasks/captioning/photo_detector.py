"""Real-world objects in photographs: an SSD detector turned into a Keras model.

The captioner's own encoder knows only the synthetic emoji scenes. Real-world visual
knowledge that may be shipped and redistributed offline comes from MediaPipe's Open Images
detector (SSD-MobileNetV2, 23 object classes, Apache-2.0), packed inside the npm package
``@mediapipe/objectron``; ``tasks/captioning/photo_sources.py`` fetches and converts it and
this module runs it: uint8 photos in, labelled boxes out, in core TF ops only (resize, the
SSD box decoding, non-maximum suppression), so the same graph can be exported.

Example:

    detector = PhotoDetector.load("data/photo/oidv4_ssd")
    detector(photo)            # [{"label": "Cat", "score": 0.85, "box": [y0, x0, y1, x1]}]
"""

import collections
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

MODEL_FILE = "ssd.keras"
LABELS_FILE = "labels.txt"


def ssd_anchors(feature_maps=(19, 10, 5, 3, 2, 1), min_scale=0.2, max_scale=0.95,
                aspect_ratios=(1.0, 2.0, 0.5, 3.0, 1.0 / 3.0), reduce_lowest=True,
                interpolated_square=True):
    """The anchor boxes of a TF Object Detection API / MediaPipe SSD, ``[N, 4]`` as
    ``(y_center, x_center, height, width)`` in [0, 1] image units.

    Layer ``l`` of ``L`` has scale ``min + (max - min) * l / (L - 1)``; with
    ``reduce_lowest`` the lowest layer keeps three boxes (a small square, 2:1 and 1:2), the
    others one box per aspect ratio plus, with ``interpolated_square``, a square at the
    geometric mean of this and the next scale. The defaults are the 300x300
    MobileNetV2-SSD's.

    Example:
        >>> ssd_anchors().shape
        (1917, 4)
    """
    count = len(feature_maps)
    step = (max_scale - min_scale) / (count - 1) if count > 1 else 0.0
    scales = [min_scale + step * i for i in range(count)] + [1.0]
    anchors = []
    for layer, size in enumerate(feature_maps):
        if layer == 0 and reduce_lowest:
            specs = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
        else:
            specs = [(scales[layer], ratio) for ratio in aspect_ratios]
            if interpolated_square:
                specs.append((math.sqrt(scales[layer] * scales[layer + 1]), 1.0))
        for y in range(size):
            for x in range(size):
                for scale, ratio in specs:
                    anchors.append(((y + 0.5) / size, (x + 0.5) / size,
                                    scale / math.sqrt(ratio), scale * math.sqrt(ratio)))
    return np.asarray(anchors, np.float32)


@keras.saving.register_keras_serializable(package="pipelines")
class SSDDetections(keras.layers.Layer):
    """Raw SSD outputs -> the best boxes of each image after non-maximum suppression.

    Inputs: ``box_encodings`` ``[B, N, 4]`` as ``(ty, tx, th, tw)`` against the anchors and
    ``class_logits`` ``[B, N, C]`` whose class 0 is the background. Outputs a dict of
    ``boxes`` ``[B, K, 4]`` (y0, x0, y1, x1 in [0, 1]), ``scores`` ``[B, K]``, ``classes``
    ``[B, K]`` (int32, foreground classes counted from 0) and ``count`` ``[B]``, the number of
    valid rows; rows past it are zero. Suppression is across classes because the Open Images
    classes nest (a Mug is also a Coffee cup, a Car a Vehicle) and one object should be
    named once.

    Example:
        >>> head = SSDDetections(score_threshold=0.5)
        >>> head([box_encodings, class_logits])["count"]
    """

    def __init__(self, score_threshold=0.5, iou_threshold=0.5, max_detections=10,
                 box_scales=(10.0, 10.0, 5.0, 5.0), anchor_options=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if int(max_detections) < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.box_scales = tuple(float(s) for s in box_scales)
        self.anchor_options = dict(anchor_options or {})
        self.anchors = ssd_anchors(**self.anchor_options)

    def decode_boxes(self, encodings):
        ty, tx, th, tw = tf.unstack(tf.cast(encodings, tf.float32) / self.box_scales, axis=-1)
        ay, ax, ah, aw = tf.unstack(tf.constant(self.anchors), axis=-1)
        y, x = ty * ah + ay, tx * aw + ax
        h, w = tf.exp(th) * ah, tf.exp(tw) * aw
        boxes = tf.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=-1)
        return tf.clip_by_value(boxes, 0.0, 1.0)

    def call(self, inputs):
        encodings, logits = inputs
        boxes = self.decode_boxes(encodings)
        scores = tf.sigmoid(tf.cast(logits, tf.float32))[..., 1:]
        best = tf.reduce_max(scores, axis=-1)
        classes = tf.argmax(scores, axis=-1, output_type=tf.int32)
        k = self.max_detections

        def one(args):
            image_boxes, image_best, image_classes = args
            keep, count = tf.image.non_max_suppression_padded(
                image_boxes, image_best, k, iou_threshold=self.iou_threshold,
                score_threshold=self.score_threshold, pad_to_max_output_size=True)
            valid = tf.range(k) < count
            zero = tf.zeros_like
            picked_boxes = tf.where(valid[:, None], tf.gather(image_boxes, keep), 0.0)
            picked_scores = tf.where(valid, tf.gather(image_best, keep), zero(image_best[:k]))
            picked_classes = tf.where(valid, tf.gather(image_classes, keep), 0)
            return picked_boxes, picked_scores, picked_classes, count

        out = tf.map_fn(one, (boxes, best, classes), fn_output_signature=(
            tf.TensorSpec([k, 4], tf.float32), tf.TensorSpec([k], tf.float32),
            tf.TensorSpec([k], tf.int32), tf.TensorSpec([], tf.int32)))
        return dict(zip(("boxes", "scores", "classes", "count"), out))

    def compute_output_spec(self, inputs):
        batch = inputs[0].shape[0]
        k = self.max_detections
        return {"boxes": keras.KerasTensor((batch, k, 4)), "scores": keras.KerasTensor((batch, k)),
                "classes": keras.KerasTensor((batch, k), dtype="int32"),
                "count": keras.KerasTensor((batch,), dtype="int32")}

    def get_config(self):
        return {**super().get_config(), "score_threshold": self.score_threshold,
                "iou_threshold": self.iou_threshold, "max_detections": self.max_detections,
                "box_scales": list(self.box_scales), "anchor_options": self.anchor_options}


ABSTAIN = "a photo"


# classes whose name is not a countable English noun phrase after "a"/"an", and their plurals
PHRASES = {"Cattle": "a cow", "High heels": "a pair of high heels", "Footwear": "a shoe"}
PLURALS = {"Cattle": "cows", "High heels": "pairs of high heels", "Footwear": "shoes",
           "Person": "people", "Computer mouse": "computer mice"}
# counts a caption spells out; above them it says "many"
NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve")


def caption_phrase(label, count=1):
    """A detector class and how many of it -> the noun phrase a caption uses.

    Example:
        >>> caption_phrase("Coffee cup"), caption_phrase("Umbrella"), caption_phrase("Cattle")
        ('a coffee cup', 'an umbrella', 'a cow')
        >>> caption_phrase("Dog", 2), caption_phrase("Person", 3), caption_phrase("Box", 20)
        ('two dogs', 'three people', 'many boxes')
    """
    if count > 1:
        word = NUMBER_WORDS[count - 2] if count - 2 < len(NUMBER_WORDS) else "many"
        return f"{word} {plural_phrase(label)}"
    if label in PHRASES:
        return PHRASES[label]
    word = label.lower()
    return ("an " if word[:1] in ("a", "e", "i", "o", "u") else "a ") + word


def plural_phrase(label):
    """A detector class -> its plural noun phrase, without a number.

    Example:
        >>> plural_phrase("Bottle"), plural_phrase("Box"), plural_phrase("Person")
        ('bottles', 'boxes', 'people')
    """
    if label in PLURALS:
        return PLURALS[label]
    word = label.lower()
    return word + ("es" if word.endswith(("s", "x", "z", "ch", "sh")) else "s")


def template_caption(detections, max_objects=3, count_objects=True):
    """Detections (best first) -> a plain sentence naming each object class once (with how
    many of it were found, when ``count_objects``), or :data:`ABSTAIN` when there is none.
    The Python reference of the graph that
    :class:`tasks.captioning.photo_task.PhotoCaptioningTask` runs.

    Example:
        >>> template_caption([{"label": "Person"}, {"label": "Laptop"}, {"label": "Person"}])
        'two people and a laptop'
        >>> template_caption([{"label": "Dog"}, {"label": "Dog"}], count_objects=False)
        'a dog'
        >>> template_caption([])
        'a photo'
    """
    counts = collections.Counter(d["label"] for d in detections)
    labels = list(dict.fromkeys(d["label"] for d in detections))[:max_objects]
    phrases = [caption_phrase(label, counts[label] if count_objects else 1) for label in labels]
    if not phrases:
        return ABSTAIN
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def read_detector_folder(path):
    """A folder written by ``build_photo_detector`` -> ``(ssd keras.Model, labels)``; a
    missing file is a ValueError that says how to build it.

    Example:
        >>> ssd, labels = read_detector_folder("data/photo/oidv4_ssd")
        >>> labels[:2]
        ['Bicycle', 'Boot']
    """
    model_path, labels_path = os.path.join(path, MODEL_FILE), os.path.join(path, LABELS_FILE)
    for file in (model_path, labels_path):
        if not os.path.isfile(file):
            raise ValueError(f"path {path!r} holds no {os.path.basename(file)}; build it with "
                             "tools/build_photo_detector.py")
    with open(labels_path, encoding="utf-8") as f:
        labels = [line.rstrip("\n") for line in f if line.strip()]
    return keras.saving.load_model(model_path, compile=False, safe_mode=True), labels


class PhotoDetector:
    """A converted SSD plus its labels: photos (uint8 ``[H, W, 3]`` or a batch) -> objects.

    Build one with ``tools/build_photo_detector.py`` (or
    :func:`tasks.captioning.photo_sources.build_photo_detector`), then load its folder.

    Example:
        >>> detector = PhotoDetector.load("data/photo/oidv4_ssd", score_threshold=0.5)
        >>> [d["label"] for d in detector(photo)]
        ['Cat']
    """

    def __init__(self, ssd, labels, score_threshold=0.5, iou_threshold=0.5, max_detections=10,
                 anchor_options=None):
        from tasks.captioning.photo_task import PhotoCaptioningTask  # it imports this module

        if not isinstance(ssd, keras.Model) or len(ssd.outputs) != 2:
            raise TypeError("ssd must be a keras.Model with two outputs (box encodings, class logits)")
        self.ssd = ssd
        self.labels = list(labels)
        self.input_size = tuple(int(d) for d in ssd.inputs[0].shape[1:3])
        # one graph path for detections: the photo captioner's (its config checks the labels)
        self.task = PhotoCaptioningTask(
            {"labels": self.labels, "image_size": self.input_size[0]}, model=ssd,
            score_threshold=score_threshold, iou_threshold=iou_threshold,
            max_detections=max_detections, anchor_options=dict(anchor_options or {}))

    @classmethod
    def load(cls, path, **options):
        """Load a folder written by ``build_photo_detector`` (``ssd.keras`` + ``labels.txt``)."""
        return cls(*read_detector_folder(path), **options)

    def __call__(self, image):
        """One photo (a path, encoded bytes, a PIL image or a uint8 array) -> a list of
        ``{"label", "score", "box"}``, best first; boxes are ``[y0, x0, y1, x1]`` in [0, 1]
        of the photo."""
        from pipelines.inputs import to_image_pixels  # the one place that validates images

        pixels = to_image_pixels(image, "image")  # encoded bytes, or a uint8 array
        return self.task.detect([pixels] if isinstance(pixels, bytes) else pixels[None])[0]

    def describe(self):
        """What was loaded: the input size and the labels, for logs and model cards."""
        return json.dumps({"input_size": self.input_size, "labels": self.labels})
