import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tasks.core.text import END_ID, PAD_ID, START_ID, UNK_ID, WordTokenizer, build_vocabulary


def test_vocabulary_orders_by_frequency_then_alphabet():
    assert build_vocabulary(["b a", "a c.", "A"]) == ["a", "b", "c"]
    assert build_vocabulary(["x y", "x"], min_count=2) == ["x"]


def test_tokenize_frames_and_pads():
    tok = WordTokenizer(["a", "red", "dog"], sequence_length=7)
    ids = tok(tf.constant(["A red dog!", "a zebra"])).numpy()
    assert ids.shape == (2, 7)
    assert ids[0].tolist() == [START_ID, 4, 5, 6, END_ID, PAD_ID, PAD_ID]
    assert ids[1].tolist()[:4] == [START_ID, 4, UNK_ID, END_ID]


def test_tokenize_truncates_but_keeps_end_token():
    tok = WordTokenizer(["a"], sequence_length=4)
    ids = tok(tf.constant(["a a a a a a"])).numpy()[0]
    assert ids.tolist() == [START_ID, 4, 4, END_ID]


def test_detokenize_stops_at_first_end_and_drops_specials():
    tok = WordTokenizer(["a", "red", "dog"], sequence_length=8)
    ids = np.array([[4, 5, UNK_ID, 6, END_ID, 5, 5], [START_ID, 6, PAD_ID, 6, 0, 0, 0]])
    assert [s.decode() for s in tok.detokenize(ids).numpy()] == ["a red dog", "dog dog"]


def test_config_round_trips_through_json():
    tok = WordTokenizer(["a", "red"], sequence_length=5, name="t")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(tok)))
    clone = keras.saving.deserialize_keras_object(config, safe_mode=True)
    np.testing.assert_array_equal(clone(tf.constant(["a red x"])), tok(tf.constant(["a red x"])))


def test_special_words_in_vocabulary_are_ignored():
    tok = WordTokenizer(["<start>", "a", "[UNK]"], sequence_length=4)
    assert tok.vocabulary == ["a"]
    with pytest.raises(Exception):
        tok(np.array([1, 2]))  # numbers are not text
