"""The arbitrary-style network: encoder -> adaptive instance normalisation -> trained decoder.

Huang & Belongie (2017): a frozen encoder turns the photograph and the style image into
feature maps; AdaIN gives each channel of the photograph's features the mean and standard
deviation of the style's; a decoder turns the result back into pixels. One network then
stylises with any painting, never seen in training included.

Here the encoder is the loss network's own MobileNetV2, cut at three depths (1/2, 1/4 and
1/8 resolution), and AdaIN runs at each: the decoder starts from the deepest and merges the
shallower ones on the way up (so fine brush texture and palette come from the style
statistics of early layers, shapes from the deep ones). Like the fast network, it predicts a
change in logit space, zero-initialised, so training starts from a picture instead of from
noise; this is what makes a decoder trainable in minutes on a CPU. The picture it starts
from is the photograph recoloured by AdaIN on its pixels (the painting's per-channel mean and
spread): a first run that started from the photograph itself ignored the style image for
its first 500 steps, painting every photo in one average palette.

``strength`` blends in feature space, per example: ``t = s * AdaIN(c, style) + (1 - s) * c``.

Example:
    >>> net = build_arbitrary_net()
    >>> out = net({"content": photos, "style": paintings, "strength": np.ones([2], "float32")})
"""

import keras
import tensorflow as tf

from tasks.style_transfer.loss_network import BUNDLED
from tasks.style_transfer.model import CropLike, ReflectPad, ResidualLogits, reflect_conv

L = keras.layers

# MobileNetV2 layers AdaIN runs on, shallow to deep (1/2, 1/4, 1/8 resolution).
ENCODER_LAYERS = ("block_1_expand_BN", "block_3_expand_BN", "block_6_expand_BN")


@keras.saving.register_keras_serializable(package="tasks")
class AdaptiveInstanceNorm(L.Layer):
    """``[content, style, strength]`` -> content features with the style's channel statistics.

    Statistics are taken over each image's positions, so the style image may have any size
    (and a batch of one style broadcasts over a batch of photographs). ``strength`` is
    ``[b]``: 0 returns the content features, 1 the full AdaIN output.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, content, style, strength):
        content = tf.cast(content, tf.float32)
        c_mean, c_var = tf.nn.moments(content, axes=[1, 2], keepdims=True)
        s_mean, s_var = tf.nn.moments(tf.cast(style, tf.float32), axes=[1, 2], keepdims=True)
        normalised = (content - c_mean) * tf.math.rsqrt(c_var + self.epsilon)
        adapted = normalised * tf.sqrt(s_var + self.epsilon) + s_mean
        strength = tf.reshape(tf.cast(strength, tf.float32), [-1, 1, 1, 1])
        return strength * adapted + (1.0 - strength) * content

    def compute_output_shape(self, content_shape, style_shape, strength_shape):
        return content_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def build_encoder(weights=None, layers=ENCODER_LAYERS):
    """The frozen MobileNetV2 (bundled nsfwjs weights): RGB [0,1] -> the ``layers`` maps."""
    from tasks.style_transfer.loss_network import _base

    base, to_input = _base("mobilenet_v2_nsfwjs", weights or BUNDLED)
    inputs = keras.Input((None, None, 3), name="encoder_pixels")
    cut = keras.Model(base.inputs, [base.get_layer(n).output for n in layers])
    encoder = keras.Model(inputs, cut(to_input(inputs)), name="encoder")
    encoder.trainable = False
    return encoder


def _conv(x, filters, kernel=3):
    return reflect_conv(x, L.Conv2D, filters, kernel, activation="relu")


def build_arbitrary_net(widths=(32, 64, 96), encoder_weights=None, border=32,
                        name="arbitrary_net"):
    """``{'content': [b,h,w,3], 'style': [b|1,hs,ws,3], 'strength': [b]}`` -> RGB [0,1] ``[b,h,w,3]``.

    ``widths`` are the decoder's filters at 1/2, 1/4 and 1/8 resolution (full resolution
    uses half the first).
    """
    if len(widths) != len(ENCODER_LAYERS):
        raise ValueError(f"widths: expected {len(ENCODER_LAYERS)} values (1/2, 1/4, 1/8 "
                         f"resolution), got {widths}")
    content = keras.Input((None, None, 3), name="content")
    style = keras.Input((None, None, 3), name="style")
    strength = keras.Input((), name="strength")
    encoder = build_encoder(encoder_weights)
    # the encoder halves the size three times: pad to a multiple of 8 (reflected, so the
    # borders look like image) and crop back at the end. A reflection needs an image larger
    # than its width, so a wide border is reflected in steps of at most 16 pixels (photos
    # down to 17 pixels a side)
    padded, remaining = content, border
    while remaining > 16:
        padded, remaining = ReflectPad(16, 1)(padded), remaining - 16
    padded = ReflectPad(remaining, 8)(padded)
    content_maps, style_maps = encoder(padded), encoder(style)
    adapted = [AdaptiveInstanceNorm(name=f"adain_{i}")(c, s, strength)
               for i, (c, s) in enumerate(zip(content_maps, style_maps))]
    x = _conv(adapted[-1], widths[-1])
    for skip, width in zip(reversed(adapted[:-1]), reversed(widths[:-1])):
        x = L.UpSampling2D(2, interpolation="nearest")(x)
        x = L.Concatenate()([x, _conv(skip, width, 1)])
        x = _conv(x, width)
    x = L.UpSampling2D(2, interpolation="nearest")(x)
    x = _conv(x, max(widths[0] // 2, 8))
    x = reflect_conv(x, L.Conv2D, 3, 3, kernel_initializer="zeros")
    x = CropLike(border)(x, content)
    # AdaIN on the pixels themselves (per-channel colour statistics, Reinhard-style colour
    # transfer) is where the decoder's change starts from: the output follows the
    # painting's palette from the first step, and the decoder learns texture on top.
    recoloured = AdaptiveInstanceNorm(name="adain_pixels")(content, style, strength)
    outputs = ResidualLogits(dtype="float32")(recoloured, x)
    return keras.Model({"content": content, "style": style, "strength": strength}, outputs,
                       name=name)
