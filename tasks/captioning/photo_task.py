"""PhotoCaptioningTask: real photographs -> a sentence naming the objects found, or "a photo".

The emoji captioner knows only synthetic scenes. This task wraps the Open Images
SSD-MobileNetV2 (23 classes, ``tasks/captioning/photo_detector.py``) and turns its
detections into a plain sentence in TF ops: each object class once, best first, at most
``max_objects`` of them, with how many of it were found ("two dogs and a person"; config
``count_objects``); below ``score_threshold`` nothing is claimed and the caption is the
abstention ``"a photo"``. Everything from the image bytes to the sentence is one graph, so
the export serves exactly what the Python task returns.

Nothing here is trained: the detector's weights are MediaPipe's, stored as the float16
values the upstream TFLite file holds (an exact copy at half the float32 size).

Example:
    >>> task = PhotoCaptioningTask.from_preset("photo_objects_ssd")
    >>> task.caption([open("cat.jpg", "rb").read()])
    ['a cat']
    >>> task.detect([open("desk.jpg", "rb").read()])[0][:1]
    [{'label': 'Laptop', 'score': 0.81, 'box': [0.31, 0.12, 0.78, 0.66]}]
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tasks.captioning.photo_detector import (ABSTAIN, NUMBER_WORDS, SSDDetections,
                                             caption_phrase, plural_phrase, read_detector_folder)
from tasks.captioning.presets import photo_presets
from tasks.captioning.task import ExportedCaptioner, score_captions
from tasks.core.images import ImagePreprocessor
from tasks.core.task import Task, register_task


@keras.saving.register_keras_serializable(package="tasks")
class PhotoPreprocessor(keras.layers.Layer):
    """Encoded bytes or pixels (0..255) -> float32 ``[B, S, S, 3]`` in 0..1, like the
    captioning preprocessor's image half (so ``make_dataset`` feeds both tasks)."""

    def __init__(self, image_size=300, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.image_preprocessor = ImagePreprocessor(self.image_size, name="images")
        self.built = True  # no weights of its own

    def call(self, images):
        return self.image_preprocessor(images)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size}


@register_task
class PhotoCaptioningTask(Task):
    name = "photo_captioning"
    presets = photo_presets
    default_config = {
        "labels": [],              # the detector's foreground classes, in its output order
        "image_size": 300,         # the detector's square input
        "score_threshold": 0.5,    # below it an object is not claimed
        "iou_threshold": 0.5,
        "max_detections": 10,
        "max_objects": 3,          # object words per caption
        "count_objects": True,     # "two dogs" for two Dog detections (else "a dog")
        "abstain": ABSTAIN,        # the caption when nothing reaches score_threshold
        "anchor_options": {},
        "dtype_policy": "float32",
        "strategy": None,
    }

    def __init__(self, config=None, preprocessor=None, model=None, **overrides):
        super().__init__(config, preprocessor, model, **overrides)
        c = self.config
        labels = list(c["labels"])
        classes = int(self.model.outputs[1].shape[-1])
        if len(labels) != classes - 1:
            raise ValueError(f"config['labels'] must name the detector's {classes - 1} foreground "
                             f"classes, got {len(labels)}")
        if int(c["max_objects"]) < 1:
            raise ValueError(f"max_objects must be >= 1, got {c['max_objects']}")
        self.head = SSDDetections(c["score_threshold"], c["iou_threshold"], c["max_detections"],
                                  anchor_options=c["anchor_options"])
        self._labels = tf.constant(labels + [""])  # "" names an empty detection slot
        self._phrases = tf.constant([caption_phrase(label) for label in labels])
        self._plurals = tf.constant([plural_phrase(label) for label in labels])
        # index n - 2 names a count n; the last entry ("many") every count past the list
        self._numbers = tf.constant(list(NUMBER_WORDS) + ["many"])

    @classmethod
    def from_detector(cls, folder, **config):
        """A task around a detector folder written by
        :func:`tasks.captioning.photo_sources.build_photo_detector`.

        Example:
            >>> PhotoCaptioningTask.from_detector("data/photo/oidv4_ssd").save("my_photo_captioner")
        """
        model, labels = read_detector_folder(folder)
        return cls({"labels": labels, "image_size": int(model.inputs[0].shape[1])}, model=model,
                   **config)

    # -- the Task hooks ----------------------------------------------------------------
    def build_preprocessor(self):
        return PhotoPreprocessor(self.config["image_size"], name="photo_preprocessor")

    def build_model(self):
        raise ValueError("a photo captioner wraps a converted detector and has no architecture "
                         "of its own to build: use PhotoCaptioningTask.from_preset("
                         "'photo_objects_ssd') or PhotoCaptioningTask.from_detector(folder)")

    def loss(self):
        raise ValueError("the photo captioner is not trained: it names the detections of a "
                         "frozen detector; train a CaptioningTask for captions of your own data")

    # -- inference (graph-safe) ----------------------------------------------------------
    def detections_from_pixels(self, pixels):
        """Float pixels ``[B, S, S, 3]`` in 0..1 -> the :class:`SSDDetections` dict."""
        encodings, logits = self.model(pixels * 2.0 - 1.0, training=False)  # trained on [-1, 1]
        return self.head([encodings, logits])

    def captions_from_detections(self, detections):
        """The detections dict -> one sentence per image ``[B]`` (tf.string)."""
        limit, abstain = int(self.config["max_objects"]), self.config["abstain"]
        counting = bool(self.config["count_objects"])

        def one(args):
            classes, count = args
            # keeps first (best-scoring) occurrences, and how many of each there are
            unique, _, counts = tf.unique_with_counts(classes[:count])
            unique, counts = unique[:limit], counts[:limit]
            phrases = tf.gather(self._phrases, unique)
            if counting:
                several = tf.gather(self._numbers, tf.minimum(tf.maximum(counts - 2, 0),
                                                               len(NUMBER_WORDS)))
                several = tf.strings.join([several, tf.gather(self._plurals, unique)], " ")
                phrases = tf.where(counts > 1, several, phrases)
            n = tf.size(phrases)
            listed = tf.strings.reduce_join(phrases[:-1], separator=", ")
            return tf.case([(tf.equal(n, 0), lambda: tf.constant(abstain)),
                            (tf.equal(n, 1), lambda: phrases[0])],
                           default=lambda: listed + " and " + phrases[-1])

        return tf.map_fn(one, (detections["classes"], detections["count"]),
                         fn_output_signature=tf.TensorSpec([], tf.string))

    def captions_from_pixels(self, pixels):
        return self.captions_from_detections(self.detections_from_pixels(pixels))

    def _outputs(self, images):
        """Bytes or pixels -> captions plus the labelled detections, for the exports."""
        detections = self.detections_from_pixels(self.preprocessor(images))
        valid = tf.range(self.config["max_detections"])[None] < detections["count"][:, None]
        labels = tf.gather(self._labels, tf.where(valid, detections["classes"], len(self.config["labels"])))
        return {"captions": self.captions_from_detections(detections), "labels": labels,
                "scores": detections["scores"], "boxes": detections["boxes"],
                "count": detections["count"]}

    def _compiled(self):
        if "_outputs_fn" not in self.__dict__:
            self._outputs_fn = tf.function(self._outputs, reduce_retracing=True)
        return self._outputs_fn

    # -- the public calls ------------------------------------------------------------------
    def caption(self, images, beam_width=None, max_length=None):
        """Batch of encoded image bytes or pixel arrays ``[B, h, w, 3]`` (0..255) -> list of str.

        ``beam_width`` and ``max_length`` belong to trained decoders; this task has none and
        refuses them rather than ignore them.
        """
        _refuse_decoding_options(beam_width, max_length)
        out = self._compiled()(tf.convert_to_tensor(images))
        return [s.decode("utf-8") for s in out["captions"].numpy()]

    def detect(self, images):
        """Batch of encoded image bytes or pixel arrays -> per image a list of ``{"label",
        "score", "box"}`` at or above ``score_threshold``, best first (boxes ``[y0, x0, y1,
        x1]`` in 0..1 of the image)."""
        out = {k: v.numpy() for k, v in self._compiled()(tf.convert_to_tensor(images)).items()}
        return [[{"label": out["labels"][i, k].decode("utf-8"), "score": float(out["scores"][i, k]),
                  "box": [float(v) for v in out["boxes"][i, k]]} for k in range(out["count"][i])]
                for i in range(len(out["count"]))]

    def evaluate(self, dataset, beam_width=None, max_length=None, limit=None):
        """Caption an evaluation dataset (``make_dataset(..., training=False)``) and score it
        like :meth:`tasks.captioning.task.CaptioningTask.evaluate`."""
        _refuse_decoding_options(beam_width, max_length)
        if "_pixels_fn" not in self.__dict__:
            self._pixels_fn = tf.function(self.captions_from_pixels, reduce_retracing=True)
        return score_captions(self._pixels_fn, dataset, limit)

    def serving_endpoints(self):
        return {
            "caption_bytes": (self._outputs, [tf.TensorSpec([None], tf.string, name="images")]),
            "caption_pixels": (self._outputs, [tf.TensorSpec([None, None, None, 3], tf.float32,
                                                             name="pixels")]),
        }

    # -- persistence: the float16 weights as shipped upstream --------------------------------
    def compact_weights(self):
        return True

    def save_model_file(self, path):
        """``model.json`` (the Keras architecture) and ``weights.npz`` (float16). The upstream
        detector is a float16 TFLite file, so float16 storage is exact; it is checked."""
        for w in self.model.get_weights():
            if not np.array_equal(w.astype(np.float16).astype(w.dtype), w):
                raise ValueError("the detector's weights are not exactly float16; they would lose "
                                 "precision in weights.npz")
        super().save_model_file(path)


def _refuse_decoding_options(beam_width, max_length):
    given = sorted(k for k, v in (("beam_width", beam_width), ("max_length", max_length))
                   if v is not None)
    if given:
        raise ValueError(f"{', '.join(given)}: the photo captioner names detected objects and has "
                         "no decoder to search; pass model='emoji_scenes_transformer' (or your "
                         "own trained captioner) to use them")


PhotoCaptioningTask.exported_class = ExportedCaptioner
