"""Clips -> tf.data batches for training and evaluation.

Clips are decoded once with PyAV (:mod:`tasks.video.io`) at the task's frame rate and
frame size, labelled per frame from their segments, and cached; batches pad clips of
different lengths (frames with zeros, labels with -1, which the loss ignores).

Example:
    >>> examples = read_benchmark("data/video", "train")
    >>> ds = make_dataset(examples, task.preprocessor, batch_size=16, training=True,
    ...                   fps=8, max_frames=32)
"""

import numpy as np
import tensorflow as tf

from tasks.core import data as core_data
from tasks.video.io import read_video
from tasks.video.readers import BACKGROUND, frame_labels


def decode_clip(example, labels, fps, max_frames, frame_size):
    """One example -> (uint8 frames [T, S, S, 3], label ids [T], times [T])."""
    frames, times = read_video(example["path"], fps=fps, max_frames=max_frames, size=frame_size,
                               argument=f"clip {example['id']!r}")
    index = {name: i for i, name in enumerate(labels)}
    names = frame_labels(example.get("segments", []), times, labels[0])
    unknown = sorted(set(names) - set(index))
    if unknown:
        raise ValueError(f"clip {example['id']!r} has labels {unknown} that the task does not "
                         f"know (its labels: {labels})")
    return frames, np.asarray([index[n] for n in names], np.int32), times


def make_dataset(examples, preprocessor, batch_size=16, training=False, seed=0, fps=8,
                 max_frames=64, shuffle_buffer=4096, repeat=False):
    """Examples -> batches.

    Training batches are ``preprocessor.training_batch`` outputs with one of each clip's
    captions drawn per epoch (seeded). Evaluation batches are ``(frames, lengths,
    label_ids, references)`` with references padded with "".
    """
    if not examples:
        raise ValueError("examples is empty")
    labels, size = preprocessor.labels, preprocessor.frame_size
    width = max(1, max(len(e.get("captions", [])) for e in examples))

    def clips():
        for e in examples:
            frames, ids, _ = decode_clip(e, labels, fps, max_frames, size)
            refs = list(e.get("captions", []))
            yield frames, len(frames), ids, refs + [""] * (width - len(refs)), max(1, len(refs))

    signature = (tf.TensorSpec([None, size, size, 3], tf.uint8), tf.TensorSpec([], tf.int32),
                 tf.TensorSpec([None], tf.int32), tf.TensorSpec([width], tf.string),
                 tf.TensorSpec([], tf.int32))
    ds = tf.data.Dataset.from_generator(clips, output_signature=signature).cache()
    ds = core_data.with_options(ds, deterministic=True)
    shapes = ([None, size, size, 3], [], [None])
    padding = (tf.constant(0, tf.uint8), 0, -1)
    if not training:
        return ds.map(lambda f, n, y, r, c: (f, n, y, r)).padded_batch(
            batch_size, shapes + ([width],), padding + ("",)).prefetch(core_data.AUTOTUNE)
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True) if shuffle_buffer else ds
    if repeat:
        ds = ds.repeat()
    # One caption per clip and epoch, drawn from a seeded stream.
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed)).map(
        lambda clip, r: (clip[0], clip[1], clip[2], clip[3][r % tf.cast(clip[4], tf.int64)]),
        num_parallel_calls=core_data.AUTOTUNE)
    ds = ds.padded_batch(batch_size, shapes + ([],), padding + ("",), drop_remainder=repeat)
    return ds.map(preprocessor.training_batch, num_parallel_calls=core_data.AUTOTUNE).prefetch(
        core_data.AUTOTUNE)


__all__ = ["decode_clip", "make_dataset", "BACKGROUND"]
