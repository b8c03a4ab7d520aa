"""The translation preprocessor: source and target text -> framed piece ids, ids -> text.

One Keras layer of core TF ops, used by tf.data (``training_batch``), by Python
inference and inside the exported SavedModel (strings in, strings out), so the three
agree. Source ids end in ``</s>``; the decoder reads ``<s> target`` and learns to
predict ``target </s>``.

Example:
    >>> pre = TranslationPreprocessor(vocabulary, source_length=96, target_length=96)
    >>> features, labels = pre.training_batch(tf.constant(["Open"]), tf.constant(["Ouvrir"]))
    >>> pre.detokenize(labels)
"""

import keras
import tensorflow as tf

from tasks.translation.tokenizer import PAD_ID, SubwordTokenizer, frame


@keras.saving.register_keras_serializable(package="tasks")
class TranslationPreprocessor(keras.layers.Layer):
    def __init__(self, vocabulary, source_length=96, target_length=96, **kwargs):
        super().__init__(**kwargs)
        self.source_length = int(source_length)
        self.target_length = int(target_length)
        self.tokenizer = SubwordTokenizer(vocabulary, name="tokenizer")
        self.built = True  # no weights of its own; tables are built eagerly

    @property
    def vocabulary_size(self):
        return self.tokenizer.vocabulary_size

    def call(self, sources, targets=None):
        if targets is None:
            return self.source_ids(sources)
        return self.training_batch(sources, targets)

    def source_ids(self, sources):
        """Strings [B] -> encoder ids [B, source_length] (pieces, ``</s>``, padding)."""
        return frame(self.tokenizer(tf.convert_to_tensor(sources, tf.string)), self.source_length)

    def training_batch(self, sources, targets):
        """(sources, targets) -> ({"source", "target_in"}, labels) for teacher forcing."""
        pieces = self.tokenizer(tf.convert_to_tensor(targets, tf.string))
        labels = frame(pieces, self.target_length)
        inputs = frame(pieces, self.target_length, start=True, end=False)
        return {"source": self.source_ids(sources), "target_in": inputs}, labels

    def detokenize(self, ids):
        return self.tokenizer.detokenize(ids)

    def lengths(self, texts):
        """Piece counts [B] (without framing): what a length filter or bucketing needs."""
        return tf.cast(self.tokenizer(tf.convert_to_tensor(texts, tf.string)).row_lengths(),
                       tf.int32)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.tokenizer.vocabulary,
                "source_length": self.source_length, "target_length": self.target_length}


__all__ = ["TranslationPreprocessor", "PAD_ID"]
