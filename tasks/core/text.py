"""Word-level tokenizer built from core TensorFlow ops only.

keras-hub tokenizers need tensorflow-text ops that a stock TF Serving binary lacks;
this tokenizer uses ``StringLookup`` (core lookup-table ops) and regex ops, so it can
live inside an exported SavedModel.

Example:
    >>> tok = WordTokenizer(vocabulary=["a", "red", "dog"], sequence_length=6)
    >>> ids = tok(["A red dog."])        # [[2, 4, 5, 6, 3, 0]]
    >>> tok.detokenize(ids[:, 1:])        # [b"a red dog"]
"""

import collections
import re

import keras
import tensorflow as tf

PAD, UNK, START, END = "", "[UNK]", "<start>", "<end>"
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
_PUNCTUATION = r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~]"


def standardize(text):
    """Lower-case, strip punctuation, collapse spaces (tf op, works on batches)."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, _PUNCTUATION, " ")
    text = tf.strings.regex_replace(text, r"\s+", " ")
    return tf.strings.strip(text)


def standardize_py(text):
    """Python twin of :func:`standardize`, used to score references."""
    text = re.sub(_PUNCTUATION, " ", text.lower())
    return re.sub(r"\s+", " ", text).strip()


def build_vocabulary(texts, min_count=1, max_size=None):
    """Words of ``texts`` by descending frequency (ties alphabetical)."""
    counts = collections.Counter(w for t in texts for w in standardize_py(t).split())
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return words[:max_size] if max_size else words


@keras.saving.register_keras_serializable(package="tasks")
class WordTokenizer(keras.layers.Layer):
    """Strings -> ``[batch, sequence_length]`` ids framed by ``<start>``/``<end>``.

    Id 0 is padding, 1 unknown, 2 ``<start>``, 3 ``<end>``; words follow.
    """

    def __init__(self, vocabulary, sequence_length=16, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = [w for w in vocabulary if w not in (PAD, UNK, START, END)]
        self.sequence_length = int(sequence_length)
        self._lookup = keras.layers.StringLookup(
            vocabulary=[START, END] + self.vocabulary, mask_token=PAD, oov_token=UNK,
            name="lookup",
        )
        self._words = tf.constant([PAD, UNK, START, END] + self.vocabulary)
        self.built = True  # no weights of its own; tables are built eagerly

    @property
    def vocabulary_size(self):
        return len(self.vocabulary) + 4

    def call(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        words = tf.strings.split(standardize(texts))
        ids = tf.cast(self._lookup(words), tf.int32)
        start = tf.fill([ids.nrows(), 1], START_ID)
        end = tf.fill([ids.nrows(), 1], END_ID)
        ids = tf.concat([start, ids[:, : self.sequence_length - 2], end], axis=1)
        return ids.to_tensor(default_value=PAD_ID, shape=[None, self.sequence_length])

    def detokenize(self, ids):
        """Ids -> strings; stops at the first ``<end>``, drops special tokens."""
        ids = tf.convert_to_tensor(ids, tf.int32)
        after_end = tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=-1, exclusive=True) > 0
        keep = (ids > END_ID) & ~after_end
        words = tf.where(keep, tf.gather(self._words, tf.where(keep, ids, 0)), "")
        text = tf.strings.reduce_join(words, axis=-1, separator=" ")
        return tf.strings.strip(tf.strings.regex_replace(text, " +", " "))

    def compute_output_spec(self, texts):
        return keras.KerasTensor((texts.shape[0], self.sequence_length), "int32")

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary,
                "sequence_length": self.sequence_length}
