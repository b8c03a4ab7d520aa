"""The fast style network (Johnson et al. 2016, with Ulyanov et al.'s instance norm).

Fully convolutional: edge conv -> two stride-2 convs -> residual blocks -> two
nearest-neighbour upsamplings each followed by a conv ("resize-convolution", which avoids
the checkerboard artefacts of transposed convolutions) -> edge conv, whose output changes
the input pixels in logit space (zero-initialised: the untrained network is the identity). Instance
normalisation is ``GroupNormalization(groups=-1)``. Any image size works: the input is
reflect-padded (16 pixels around, then to a multiple of 4) and the output cropped back.

The default is slimmer than Johnson's (16/32/64 filters, depthwise-separable residual
blocks, 5x5 edge convs): on 2 CPU cores the original ran at 3.2 frames/s at 256² where this
one ran at about 14 (the bundled networks: 34 in the benchmark of 2026-12-02, on a faster host).

Example:
    >>> net = build_transform_net()
    >>> net(np.zeros([1, 250, 333, 3], "float32")).shape
    TensorShape([1, 250, 333, 3])
"""

import keras
import tensorflow as tf

L = keras.layers


def _mirror(x, axis, before, after, edge):
    """``x`` with ``before`` and ``after`` mirrored entries added on ``axis`` (1 or 2):
    tf.pad's SYMMETRIC mode with ``edge`` (the edge entry repeated), else REFLECT."""
    skip = 0 if edge else 1
    size = tf.shape(x)[axis]

    def mirrored(start, stop):
        part = x[:, start:stop] if axis == 1 else x[:, :, start:stop]
        return tf.reverse(part, [axis])

    before_part = [mirrored(skip, skip + before)] if before else []
    return tf.concat(before_part + [x, mirrored(size - after - skip, size - skip)], axis)


@keras.saving.register_keras_serializable(package="tasks")
class ReflectPad(L.Layer):
    """Reflect-pad ``border`` pixels on every side, then the bottom/right up to a multiple
    of ``multiple``: convolutions then see image-like borders instead of zeros (which
    leave bright or dark frames), and the stride-2 stages divide evenly."""

    def __init__(self, border=16, multiple=4, **kwargs):
        super().__init__(**kwargs)
        self.border, self.multiple = int(border), int(multiple)

    # Up to this many values, slices, reversals and concatenations pad: the same values as
    # tf.pad's mirror modes, whose MirrorPad kernel took a quarter of the fast network's time
    # at 256² on 2 CPU cores (about twice what the copies take). Larger tensors take
    # MirrorPad: there the copies were no faster and their temporaries raised the peak
    # memory of a 2048² image from 2.7 to 3.0 GB.
    concat_max_values = 1 << 22

    def call(self, x):
        b = self.border
        shape = tf.shape(x)
        if b:
            tf.debugging.assert_greater(
                tf.minimum(shape[1], shape[2]), b,
                message=f"ReflectPad: height and width must exceed the border ({b} pixels)")
        return tf.cond(tf.size(x, out_type=tf.int64) <= self.concat_max_values,
                       lambda: self._by_concat(x), lambda: self._by_mirror_pad(x))

    def _by_concat(self, x):
        b = self.border
        if b:
            x = _mirror(x, 1, b, b, edge=False)
            x = _mirror(x, 2, b, b, edge=False)
        if self.multiple > 1:
            shape = tf.shape(x)
            x = _mirror(x, 1, 0, (-shape[1]) % self.multiple, edge=True)
            x = _mirror(x, 2, 0, (-shape[2]) % self.multiple, edge=True)
        return x

    def _by_mirror_pad(self, x):
        b = self.border
        shape = tf.shape(x)
        extra_h = (-(shape[1] + 2 * b)) % self.multiple
        extra_w = (-(shape[2] + 2 * b)) % self.multiple
        x = tf.pad(x, [[0, 0], [b, b], [b, b], [0, 0]], mode="REFLECT")
        return tf.pad(x, [[0, 0], [0, extra_h], [0, extra_w], [0, 0]], mode="SYMMETRIC")

    def compute_output_shape(self, shape):
        return (shape[0], None, None, shape[3])

    def get_config(self):
        return {**super().get_config(), "border": self.border, "multiple": self.multiple}


def reflect_border(x, border, multiple=1):
    """Reflect-pad ``border`` pixels on every side of ``x``, then the bottom/right up to a
    multiple of ``multiple`` (:class:`ReflectPad`). A reflection needs an image wider than
    itself, so a wide border goes in steps of at most 16 pixels: photos down to 17 pixels
    a side work whatever the border.

    Example:
        >>> padded = reflect_border(keras.Input((None, None, 3)), 40, multiple=8)
    """
    remaining = int(border)
    while remaining > 16:
        x, remaining = ReflectPad(16, 1)(x), remaining - 16
    return ReflectPad(remaining, multiple)(x)


@keras.saving.register_keras_serializable(package="tasks")
class CropLike(L.Layer):
    """Crop ``x`` to the height and width of ``reference``, starting ``border`` pixels in."""

    def __init__(self, border=16, **kwargs):
        super().__init__(**kwargs)
        self.border = int(border)

    def call(self, x, reference):
        shape = tf.shape(reference)
        b = self.border
        return x[:, b:b + shape[1], b:b + shape[2], :]

    def compute_output_shape(self, x_shape, reference_shape):
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "border": self.border}


@keras.saving.register_keras_serializable(package="tasks")
class ResidualLogits(L.Layer):
    """``sigmoid(logit(pixels) + change)``: pixels in [0, 1] moved by a change in logit space."""

    def call(self, pixels, change):
        pixels = tf.clip_by_value(tf.cast(pixels, tf.float32), 1e-3, 1.0 - 1e-3)
        logits = tf.math.log(pixels) - tf.math.log1p(-pixels)
        return tf.sigmoid(logits + tf.cast(change, tf.float32))

    def compute_output_shape(self, pixels_shape, change_shape):
        return pixels_shape


def _norm_relu(x, relu=True):
    x = L.GroupNormalization(groups=-1, epsilon=1e-5)(x)  # instance normalisation
    return L.ReLU()(x) if relu else x


def reflect_conv(x, layer, filters, kernel, strides=1, **kwargs):
    """A convolution over a reflect-padded input (``kernel // 2`` on every side, "valid").

    Zero ("same") padding tells the network where the image ends, and TensorFlow's
    stride-2 "same" pads only the bottom and right: trained networks used that cue to paint
    bands of style colour along those edges. Reflected borders carry no such cue.
    """
    if kernel > 1:
        x = ReflectPad(kernel // 2, 1)(x)
    return layer(filters, kernel, strides, padding="valid", **kwargs)(x)


def _conv(x, filters, kernel, strides=1, separable=False, relu=True):
    layer = L.SeparableConv2D if separable and kernel > 1 else L.Conv2D
    x = reflect_conv(x, layer, filters, kernel, strides, use_bias=False)
    return _norm_relu(x, relu)


def build_transform_net(filters=(16, 32, 64), residual_blocks=5, separable=True, edge_kernel=5,
                        border=16, name="transform_net"):
    """The feed-forward stylisation network: RGB [0,1] ``[b, h, w, 3]`` -> RGB [0,1]."""
    if len(filters) != 3:
        raise ValueError(f"filters: expected three widths (full, 1/2, 1/4 resolution), got {filters}")
    inputs = keras.Input((None, None, 3), name="pixels")
    x = ReflectPad(border, 4)(inputs)
    x = _conv(x, filters[0], edge_kernel)
    x = _conv(x, filters[1], 3, strides=2)
    x = _conv(x, filters[2], 3, strides=2)
    for _ in range(residual_blocks):
        y = _conv(x, filters[2], 3, separable=separable)
        y = _conv(y, filters[2], 3, separable=separable, relu=False)
        x = L.Add()([x, y])
    for width in (filters[1], filters[0]):
        x = L.UpSampling2D(2, interpolation="nearest")(x)
        x = _conv(x, width, 3)
    x = reflect_conv(x, L.Conv2D, 3, edge_kernel, kernel_initializer="zeros")
    x = CropLike(border)(x, inputs)
    # The network predicts a change to the input, in logit space: at initialisation the
    # output is the photograph itself, so training starts from the content and adds style
    # (as Gatys optimisation does) instead of first having to learn to reproduce the image.
    # float32 output under mixed precision: pixels are compared and encoded downstream.
    outputs = ResidualLogits(dtype="float32")(inputs, x)
    return keras.Model(inputs, outputs, name=name)
