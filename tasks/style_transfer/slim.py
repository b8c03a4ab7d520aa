"""The slim fast network: most of its work at a quarter of the resolution, for speed.

A space-to-depth by 4 turns the reflect-padded photograph into a ``[h/4, w/4, 48]`` map;
one convolution and ``residual_blocks`` depthwise-separable residual blocks work there
(``widths[0]`` channels); a nearest-neighbour upsampling and a separable convolution
(``widths[1]`` channels) bring it to half size, where a zero-initialised convolution
predicts 12 channels that a depth-to-space turns into a full-size change in logit space (no
layer runs at full resolution: on 2 CPU cores those took a quarter of the time). The
change is added to the photograph recoloured to the painting's per-channel mean and spread
(:class:`adain.FixedInstanceNorm`, ``adain_pixels``, as in the AdaIN networks): so the
untrained network already paints in the style's palette, and the layers only add texture.

Instance normalisation is :class:`FastInstanceNorm`, one fused batch-norm kernel over the
batch's channels side by side (the same values as ``GroupNormalization(groups=-1)``).

It trains best by distillation from a bundled network of the same style (``teacher`` in
:class:`task.StyleTransferTask`): pixel distance first, then the perceptual loss as well.

Example:
    >>> net = build_slim_net()
    >>> net(np.zeros([1, 250, 333, 3], "float32")).shape
    TensorShape([1, 250, 333, 3])
"""

import keras
import tensorflow as tf

from tasks.style_transfer.adain import FixedInstanceNorm
from tasks.style_transfer.model import CropLike, ResidualLogits, reflect_border

L = keras.layers

SCALE = 4  # the space-to-depth block: the residual blocks run at 1/SCALE of the resolution


@keras.saving.register_keras_serializable(package="tasks")
class FastInstanceNorm(L.Layer):
    """Instance normalisation with a learned per-channel scale and offset.

    The batch's images are laid side by side as channels (``[1, h, w, b*c]``) and normalised
    by one ``FusedBatchNormV3`` in training mode, whose statistics are then per image and
    channel: the values of ``GroupNormalization(groups=-1)`` (within float rounding) at about
    1.2x its speed in the whole network on 2 CPU cores, where the separate mean, variance and
    scale ops of the group norm dominate the small convolutions around it.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, shape):
        channels = int(shape[-1])
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        n, h, w, c = tf.unstack(tf.shape(x))
        # free for one image: a transpose that only moves a size-1 axis is a reshape
        side_by_side = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c])
        # the kernel takes float16/bfloat16 pixels with float32 scale and offset
        scale = tf.tile(tf.cast(self.gamma, tf.float32), [n])
        offset = tf.tile(tf.cast(self.beta, tf.float32), [n])
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(side_by_side, scale, offset,
                                                   epsilon=self.epsilon, is_training=True)
        return tf.transpose(tf.reshape(y, [h, w, n, c]), [2, 0, 1, 3])

    def compute_output_shape(self, shape):
        return shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="tasks")
class SpaceToDepth(L.Layer):
    """``[b, h, w, c]`` -> ``[b, h/block, w/block, c*block²]`` (h and w multiples of block)."""

    def __init__(self, block=SCALE, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        return tf.nn.space_to_depth(x, self.block)

    def compute_output_shape(self, shape):
        return (shape[0], None, None, shape[3] * self.block ** 2)

    def get_config(self):
        return {**super().get_config(), "block": self.block}


@keras.saving.register_keras_serializable(package="tasks")
class DepthToSpace(L.Layer):
    """``[b, h, w, c*block²]`` -> ``[b, h*block, w*block, c]``."""

    def __init__(self, block=2, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.block)

    def compute_output_shape(self, shape):
        return (shape[0], None, None, shape[3] // self.block ** 2)

    def get_config(self):
        return {**super().get_config(), "block": self.block}


@keras.saving.register_keras_serializable(package="tasks")
class Trim(L.Layer):
    """Drop ``amount`` entries from each side of the height and width."""

    def __init__(self, amount=1, **kwargs):
        super().__init__(**kwargs)
        self.amount = int(amount)

    def call(self, x):
        n = self.amount
        return x[:, n:-n, n:-n] if n else x

    def compute_output_shape(self, shape):
        return (shape[0], None, None, shape[3])

    def get_config(self):
        return {**super().get_config(), "amount": self.amount}


def _norm_relu(x, relu=True):
    x = FastInstanceNorm()(x)
    return L.ReLU()(x) if relu else x


def slim_border(residual_blocks):
    """Pixels reflected around the photo: what the "valid" convolutions eat (one cell of
    4 pixels a side for each 3x3 convolution at 1/4 resolution, half a cell at 1/2)."""
    return SCALE * (2 + 2 * residual_blocks)


def build_slim_net(widths=(64, 32), residual_blocks=3, block_norms=1, name="slim_net"):
    """RGB [0,1] ``[b, h, w, 3]`` -> RGB [0,1]; any size (reflect-padded to a multiple of 4).

    ``widths``: channels at 1/4 and 1/2 resolution. ``block_norms``: instance norms per
    residual block: 1 (after the first convolution; the default, 1.2x faster) or 2 (after
    both, as in Johnson et al.). Every convolution is "valid" over a photo reflect-padded
    once by :func:`slim_border` pixels: zero padding inside (``"same"``) cost nothing but
    told the network where the image ends, and a distilled network trained with it painted
    a frame of stripes along the edges.
    """
    widths = [int(w) for w in widths]
    if len(widths) != 2 or min(widths) < 1:
        raise ValueError(f"widths: expected two positive widths (1/4 and 1/2 resolution), "
                         f"got {widths}")
    if block_norms not in (1, 2):
        raise ValueError(f"block_norms must be 1 or 2, got {block_norms!r}")
    inputs = keras.Input((None, None, 3), name="pixels")
    recoloured = FixedInstanceNorm(name="adain_pixels")(inputs)
    x = SpaceToDepth(SCALE)(reflect_border(inputs, slim_border(residual_blocks), SCALE))
    x = _norm_relu(L.Conv2D(widths[0], 3, use_bias=False)(x))
    for _ in range(residual_blocks):
        y = _norm_relu(L.SeparableConv2D(widths[0], 3, use_bias=False)(x))
        y = L.SeparableConv2D(widths[0], 3, use_bias=block_norms == 1)(y)
        if block_norms == 2:
            y = FastInstanceNorm()(y)
        x = L.Add()([Trim(2)(x), y])
    x = L.UpSampling2D(2, interpolation="nearest")(x)
    x = L.SeparableConv2D(widths[1], 3, activation="relu")(x)
    x = L.Conv2D(3 * 4, 3, kernel_initializer="zeros")(x)
    x = DepthToSpace(2)(x)
    # the convolutions ate the border: what is left is the photo (and the bottom/right
    # padding to a multiple of 4)
    x = CropLike(0)(x, inputs)
    # float32 output under mixed precision: pixels are compared and encoded downstream
    outputs = ResidualLogits(dtype="float32")(recoloured, x)
    return keras.Model(inputs, outputs, name=name)


def set_recolour(net, style):
    """Set ``net``'s ``adain_pixels`` to the painting ``style``'s (``[1, h, w, 3]`` or
    ``[h, w, 3]`` in [0, 1]) per-channel mean and standard deviation.

    Example:
        >>> set_recolour(build_slim_net(), painting)
    """
    net.get_layer("adain_pixels").set_statistics(style)
    return net
