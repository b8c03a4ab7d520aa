import numpy as np
import tensorflow as tf

from tasks.core.data import finish_pipeline, with_options


def _ragged_dataset():
    lengths = [3, 9, 4, 10, 2, 8, 5, 11]
    return tf.data.Dataset.from_generator(
        lambda: (np.arange(1, n + 1, dtype=np.int32) for n in lengths),
        output_signature=tf.TensorSpec([None], tf.int32))


def test_padded_batches_pad_to_the_longest_in_batch():
    batches = list(finish_pipeline(_ragged_dataset(), batch_size=4))
    assert [b.shape[1] for b in batches] == [10, 11]
    assert int(batches[0][0, 3]) == 0  # padding with zeros


def test_bucketed_batches_group_similar_lengths():
    ds = finish_pipeline(_ragged_dataset(), batch_size=4, length_fn=lambda x: tf.shape(x)[0],
                         bucket_boundaries=[6])
    widths = sorted(b.shape[1] for b in ds)
    assert widths == [5, 11]  # short ones together, long ones together


def test_shuffle_is_seeded_and_deterministic():
    ds = tf.data.Dataset.range(100)
    a = list(with_options(finish_pipeline(ds, 10, shuffle_buffer=100, seed=4)).unbatch().as_numpy_iterator())
    b = list(with_options(finish_pipeline(ds, 10, shuffle_buffer=100, seed=4)).unbatch().as_numpy_iterator())
    assert a == b and sorted(a) == list(range(100)) and a != list(range(100))
