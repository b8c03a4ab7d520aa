"""Captioning readers (COCO captions JSON, Flickr8k/30k token files) and tf.data pipelines.

Every reader returns a list of ``{"image": path, "captions": [str, ...], "id": ...}``;
``make_dataset`` turns such a list into batches for training or evaluation.

Example:
    >>> examples = read_coco_captions("data/emoji_scenes", split="train")
    >>> ds = make_dataset(examples, task.preprocessor, batch_size=64, training=True)
"""

import collections
import json
import os

import tensorflow as tf

from tasks.core import data as core_data


def read_coco_captions(root, split=None, annotation_file=None, image_dir=None):
    """Read COCO captions: ``root/annotations/captions_<split>.json`` + ``root/<split>/``.

    Real COCO lays out ``annotations/captions_train2017.json`` and ``train2017/``:
    pass ``split="train2017"``. ``annotation_file``/``image_dir`` override the layout.
    """
    annotation_file = annotation_file or os.path.join(root, "annotations", f"captions_{split}.json")
    image_dir = image_dir or os.path.join(root, split or "")
    if not os.path.exists(annotation_file):
        raise ValueError(f"annotation file {annotation_file!r} does not exist")
    with open(annotation_file) as f:
        coco = json.load(f)
    if "images" not in coco or "annotations" not in coco:
        raise ValueError(f"{annotation_file!r} is not COCO captions JSON (needs images + annotations)")
    captions = collections.defaultdict(list)
    for ann in coco["annotations"]:
        captions[ann["image_id"]].append(ann["caption"].strip())
    examples = []
    for image in sorted(coco["images"], key=lambda im: im["id"]):
        if captions.get(image["id"]):
            examples.append({"id": image["id"], "image": os.path.join(image_dir, image["file_name"]),
                             "captions": captions[image["id"]]})
    return examples


def read_flickr_captions(token_file, image_dir, image_names=None):
    """Read a Flickr8k/Flickr30k token file (``name.jpg#k<TAB>caption`` per line).

    ``image_names`` (e.g. the lines of ``Flickr_8k.testImages.txt``) keeps one split.
    """
    captions = collections.OrderedDict()
    for lineno, line in core_data.text_lines(token_file, "token_file"):
        if "\t" not in line or "#" not in line.split("\t", 1)[0]:
            raise ValueError(f"{token_file}:{lineno}: expected 'image.jpg#N<TAB>caption'")
        key, caption = line.split("\t", 1)
        captions.setdefault(key.rsplit("#", 1)[0], []).append(caption.strip())
    keep = None if image_names is None else set(image_names)
    return [{"id": name, "image": os.path.join(image_dir, name), "captions": caps}
            for name, caps in captions.items() if keep is None or name in keep]


def _load_image(path, image_preprocessor):
    return image_preprocessor(tf.io.read_file(path)[None])[0]


def photometric_augment(image, seed):
    """Random brightness, contrast and saturation from a stateless ``seed`` pair.

    Geometry is left alone on purpose: a flip would turn "left of" into "right of".
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    image = tf.image.stateless_random_brightness(image, 0.15, seeds[0])
    image = tf.image.stateless_random_contrast(image, 0.8, 1.2, seeds[1])
    image = tf.image.stateless_random_saturation(image, 0.8, 1.2, seeds[2])
    return tf.clip_by_value(image, 0.0, 1.0)


def make_dataset(examples, preprocessor, batch_size=64, training=False, seed=0, cache=True,
                 shuffle_buffer=8192, repeat=False, augment=False):
    """Examples -> batches.

    Images are decoded and resized in parallel and cached once. With ``training``
    every (image, caption) pair is one example, shuffled deterministically from
    ``seed``; batches are ``({"images", "tokens"}, labels)`` with labels the tokens
    shifted by one; ``augment`` adds :func:`photometric_augment`, seeded by the
    example's position in the run so it is reproducible yet differs per epoch. Without
    ``training``, batches are ``(images, references)`` with the
    references padded with "" to the largest count.
    """
    if not examples:
        raise ValueError("examples is empty")
    width = max(len(e["captions"]) for e in examples)
    refs = [e["captions"] + [""] * (width - len(e["captions"])) for e in examples]
    counts = [len(e["captions"]) for e in examples]
    ds = tf.data.Dataset.from_tensor_slices(([e["image"] for e in examples], refs, counts))
    ds = ds.map(lambda p, r, n: (_load_image(p, preprocessor.image_preprocessor), r, n),
                num_parallel_calls=core_data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    ds = core_data.with_options(ds, deterministic=True)
    if not training:
        return ds.map(lambda img, r, n: (img, r)).batch(batch_size).prefetch(core_data.AUTOTUNE)
    ds = ds.flat_map(lambda img, r, n: tf.data.Dataset.zip(
        tf.data.Dataset.from_tensors(img).repeat(tf.cast(n, tf.int64)),
        tf.data.Dataset.from_tensor_slices(r[:n])))
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True) if shuffle_buffer else ds
    if repeat:
        ds = ds.repeat()
    if augment:
        ds = ds.enumerate().map(
            lambda i, pair: (photometric_augment(pair[0], tf.stack([tf.cast(seed, tf.int64), i])), pair[1]),
            num_parallel_calls=core_data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=repeat)
    return ds.map(preprocessor.training_batch, num_parallel_calls=core_data.AUTOTUNE).prefetch(
        core_data.AUTOTUNE)
