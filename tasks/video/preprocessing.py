"""The video preprocessor: frames -> model pixels, captions -> token ids, ids -> text and
label names.

One Keras layer used in tf.data (``training_batch``), in Python inference and inside the
exported SavedModel, so the three can never disagree.

Example:
    >>> pre = VideoPreprocessor(labels=["none", "jump"], vocabulary=["a", "dog", "jumps"])
    >>> pre.frames(tf.zeros([1, 8, 120, 160, 3], tf.uint8)).shape
    TensorShape([1, 8, 64, 64, 3])
"""

import keras
import tensorflow as tf

from tasks.core.text import WordTokenizer


@keras.saving.register_keras_serializable(package="tasks")
class VideoPreprocessor(keras.layers.Layer):
    def __init__(self, labels, vocabulary, frame_size=64, sequence_length=32, **kwargs):
        super().__init__(**kwargs)
        if len(labels) < 2:
            raise ValueError(f"labels needs the background label and at least one event, got {labels!r}")
        self.labels = [str(x) for x in labels]
        self.frame_size = int(frame_size)
        self.sequence_length = int(sequence_length)
        self.tokenizer = WordTokenizer(vocabulary, sequence_length, name="tokenizer")
        self._label_names = tf.constant(self.labels)
        self.built = True  # no weights of its own

    @property
    def vocabulary_size(self):
        return self.tokenizer.vocabulary_size

    def frames(self, frames):
        """uint8 or float frames [B, T, H, W, 3] in 0..255 -> float [B, T, S, S, 3] in 0..1."""
        frames = tf.cast(frames, tf.float32)
        shape = tf.shape(frames)
        images = tf.reshape(frames, tf.concat([[-1], shape[2:]], 0))
        images = tf.image.resize(images, [self.frame_size, self.frame_size], antialias=True)
        return tf.reshape(images, tf.concat([shape[:2], [self.frame_size, self.frame_size, 3]], 0)) / 255.0

    def call(self, frames):
        return self.frames(frames)

    def training_batch(self, frames, lengths, label_ids, captions):
        """-> ({"frames", "lengths", "tokens"}, {"labels", "caption"}) for teacher forcing;
        ``label_ids`` are -1 on padded frames (ignored by the loss)."""
        ids = self.tokenizer(captions)
        return ({"frames": self.frames(frames), "lengths": tf.cast(lengths, tf.int32),
                 "tokens": ids[:, :-1]}, {"labels": tf.cast(label_ids, tf.int32), "caption": ids[:, 1:]})

    def label_names(self, ids):
        return tf.gather(self._label_names, ids)

    def get_config(self):
        return {**super().get_config(), "labels": self.labels, "vocabulary": self.tokenizer.vocabulary,
                "frame_size": self.frame_size, "sequence_length": self.sequence_length}
