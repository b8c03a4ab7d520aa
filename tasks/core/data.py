"""tf.data building blocks shared by tasks: options, batching, prefetch.

Example:
    >>> ds = finish_pipeline(ds, batch_size=64, shuffle_buffer=10_000, seed=0)
"""

import os

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def text_lines(path, what="path"):
    """(line number, line without newline) for each non-blank line of a UTF-8 file.

    The shared front of every line-oriented reader (token files, TSV, metadata.csv).
    """
    if not os.path.isfile(path):
        raise ValueError(f"{what} {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.strip():
                yield lineno, line


def with_options(ds, deterministic=True, threads=None):
    """Set determinism (same order and randomness for the same seed) and threading."""
    options = tf.data.Options()
    options.deterministic = deterministic
    if threads:
        options.threading.private_threadpool_size = threads
    return ds.with_options(options)


def finish_pipeline(ds, batch_size, shuffle_buffer=0, seed=0, repeat=False, drop_remainder=False,
                    length_fn=None, bucket_boundaries=None, padded_shapes=None):
    """Shuffle -> (repeat) -> batch (padded, or bucketed by ``length_fn``) -> prefetch."""
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if bucket_boundaries:
        if length_fn is None:
            raise ValueError("bucket_boundaries needs a length_fn")
        ds = ds.bucket_by_sequence_length(
            length_fn, bucket_boundaries, [batch_size] * (len(bucket_boundaries) + 1),
            padded_shapes=padded_shapes, drop_remainder=drop_remainder,
        )
    else:
        ds = ds.padded_batch(batch_size, padded_shapes=padded_shapes, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE)
