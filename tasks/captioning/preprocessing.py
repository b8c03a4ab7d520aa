"""The captioning preprocessor: images -> pixels, captions -> token ids, ids -> text.

One Keras layer used in tf.data (``training_batch``), in Python inference and
inside the exported SavedModel, so the three can never disagree.

Example:
    >>> pre = CaptioningPreprocessor(vocabulary=["a", "red", "dog"], image_size=96)
    >>> features, labels = pre.training_batch(images, tf.constant(["a red dog"]))
"""

import keras

from tasks.core.images import ImagePreprocessor
from tasks.core.text import WordTokenizer


@keras.saving.register_keras_serializable(package="tasks")
class CaptioningPreprocessor(keras.layers.Layer):
    def __init__(self, vocabulary, image_size=96, sequence_length=16, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.sequence_length = int(sequence_length)
        self.image_preprocessor = ImagePreprocessor(image_size, name="images")
        self.tokenizer = WordTokenizer(vocabulary, sequence_length, name="tokenizer")
        self.built = True  # no weights of its own; tables are built eagerly

    @property
    def vocabulary_size(self):
        return self.tokenizer.vocabulary_size

    def call(self, images, captions=None):
        pixels = self.image_preprocessor(images)
        if captions is None:
            return pixels
        return self.training_batch(pixels, captions)

    def training_batch(self, pixels, captions):
        """(pixels, captions) -> ({"images", "tokens"}, labels) for teacher forcing."""
        ids = self.tokenizer(captions)
        return {"images": pixels, "tokens": ids[:, :-1]}, ids[:, 1:]

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.tokenizer.vocabulary,
                "image_size": self.image_size, "sequence_length": self.sequence_length}
