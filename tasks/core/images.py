"""Image decoding and resizing in TensorFlow ops (usable in tf.data and exports).

Example:
    >>> pre = ImagePreprocessor(image_size=96)
    >>> pre(tf.constant([jpeg_bytes]))    # float32 [1, 96, 96, 3] in [0, 1]
"""

import keras
import tensorflow as tf


def decode_image_bytes(data, channels=3):
    """One encoded JPEG/PNG/GIF/BMP string -> uint8 [h, w, channels]."""
    image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    return image


@keras.saving.register_keras_serializable(package="tasks")
class ImagePreprocessor(keras.layers.Layer):
    """Encoded bytes, uint8 pixels or float pixels (0..255) -> float32 in [0, 1].

    Accepts a batch: ``tf.string [batch]`` of encoded images (decoded here, so an
    exported graph takes raw bytes), or ``[batch, h, w, 3]`` pixels of any size.
    Everything is resized (antialiased bilinear) to ``image_size`` square.
    """

    def __init__(self, image_size=96, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.built = True  # no weights of its own; tables are built eagerly

    def _resize(self, pixels):
        pixels = tf.cast(pixels, tf.float32)
        size = [self.image_size, self.image_size]
        return tf.clip_by_value(tf.image.resize(pixels, size, antialias=True) / 255.0, 0.0, 1.0)

    def call(self, images):
        images = tf.convert_to_tensor(images)
        if images.dtype == tf.string:
            return tf.map_fn(
                lambda b: self._resize(decode_image_bytes(b)), images,
                fn_output_signature=tf.TensorSpec([self.image_size, self.image_size, 3], tf.float32),
            )
        return self._resize(images)

    def compute_output_spec(self, images):
        return keras.KerasTensor((images.shape[0], self.image_size, self.image_size, 3), "float32")

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size}
