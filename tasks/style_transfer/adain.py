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
from tasks.style_transfer.model import CropLike, ResidualLogits, reflect_border, reflect_conv

L = keras.layers

# MobileNetV2 layers AdaIN runs on, shallow to deep (1/2, 1/4, 1/8 resolution).
ENCODER_LAYERS = ("block_1_expand_BN", "block_3_expand_BN", "block_6_expand_BN")


def instance_normalised(features, epsilon):
    """``[b, h, w, c]`` -> each image's channels at mean 0, variance 1 (float32)."""
    features = tf.cast(features, tf.float32)
    mean, var = tf.nn.moments(features, axes=[1, 2], keepdims=True)
    return (features - mean) * tf.math.rsqrt(var + epsilon)


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
        s_mean, s_var = tf.nn.moments(tf.cast(style, tf.float32), axes=[1, 2], keepdims=True)
        adapted = instance_normalised(content, self.epsilon) * tf.sqrt(s_var + self.epsilon) + s_mean
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


def _padded_for_encoder(content, border):
    # the encoder halves the size three times: pad to a multiple of 8 (reflected, so the
    # borders look like image) and crop back at the end
    return reflect_border(content, border, 8)


def _decoder(content, adapted, recoloured, widths, border):
    """The decoder over the AdaIN'd encoder maps (shallow to deep) -> RGB [0,1]: a change in
    logit space to ``recoloured`` (the photograph recoloured by AdaIN on its pixels)."""
    x = _conv(adapted[-1], widths[-1])
    for skip, width in zip(reversed(adapted[:-1]), reversed(widths[:-1])):
        x = L.UpSampling2D(2, interpolation="nearest")(x)
        x = L.Concatenate()([x, _conv(skip, width, 1)])
        x = _conv(x, width)
    x = L.UpSampling2D(2, interpolation="nearest")(x)
    x = _conv(x, max(widths[0] // 2, 8))
    x = reflect_conv(x, L.Conv2D, 3, 3, kernel_initializer="zeros")
    x = CropLike(border)(x, content)
    return ResidualLogits(dtype="float32")(recoloured, x)


def _check_widths(widths):
    if len(widths) != len(ENCODER_LAYERS):
        raise ValueError(f"widths: expected {len(ENCODER_LAYERS)} values (1/2, 1/4, 1/8 "
                         f"resolution), got {widths}")


def build_arbitrary_net(widths=(32, 64, 96), encoder_weights=None, border=32,
                        name="arbitrary_net"):
    """``{'content': [b,h,w,3], 'style': [b|1,hs,ws,3], 'strength': [b]}`` -> RGB [0,1] ``[b,h,w,3]``.

    ``widths`` are the decoder's filters at 1/2, 1/4 and 1/8 resolution (full resolution
    uses half the first).
    """
    _check_widths(widths)
    content = keras.Input((None, None, 3), name="content")
    style = keras.Input((None, None, 3), name="style")
    strength = keras.Input((), name="strength")
    encoder = build_encoder(encoder_weights)
    content_maps, style_maps = encoder(_padded_for_encoder(content, border)), encoder(style)
    adapted = [AdaptiveInstanceNorm(name=f"adain_{i}")(c, s, strength)
               for i, (c, s) in enumerate(zip(content_maps, style_maps))]
    # AdaIN on the pixels themselves (per-channel colour statistics, Reinhard-style colour
    # transfer) is where the decoder's change starts from: the output follows the
    # painting's palette from the first step, and the decoder learns texture on top.
    recoloured = AdaptiveInstanceNorm(name="adain_pixels")(content, style, strength)
    outputs = _decoder(content, adapted, recoloured, widths, border)
    return keras.Model({"content": content, "style": style, "strength": strength}, outputs,
                       name=name)


@keras.saving.register_keras_serializable(package="tasks")
class FixedInstanceNorm(L.Layer):
    """Instance normalisation to a stored style: each channel of ``content`` gets the mean
    ``shift`` and standard deviation ``scale`` (weights, trainable: they start at one
    painting's statistics, :func:`fix_style`, and may move with the decoder)."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, content_shape):
        channels = int(content_shape[-1])
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
        self.shift = self.add_weight(shape=(channels,), initializer="zeros", name="shift")

    def call(self, content):
        return (instance_normalised(content, self.epsilon) * tf.cast(self.scale, tf.float32)
                + tf.cast(self.shift, tf.float32))

    def set_statistics(self, feature):
        """Set ``scale`` and ``shift`` to the per-channel standard deviation and mean of
        ``feature`` (any shape ending in the channels: a painting or its feature map)."""
        feature = tf.cast(feature, tf.float32)
        mean, var = tf.nn.moments(tf.reshape(feature, [-1, feature.shape[-1]]), axes=[0])
        self.set_weights([tf.sqrt(var + self.epsilon).numpy(), mean.numpy()])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def build_fixed_style_net(widths=(32, 64, 96), encoder_weights=None, border=32,
                          name="fixed_style_net"):
    """RGB [0,1] ``[b,h,w,3]`` -> RGB [0,1]: the arbitrary network with one painting built in.

    The same encoder and decoder as :func:`build_arbitrary_net`, but AdaIN takes the
    painting's channel statistics from weights (:class:`FixedInstanceNorm`) instead of from a
    style input, so the painting is never encoded at inference and the network is a fast
    network for that one style (a pixels-in, pixels-out model like
    :func:`model.build_transform_net`). :func:`fix_style` starts it from a trained arbitrary
    network and a painting.

    Example:
        >>> net = build_fixed_style_net()
        >>> fix_style(net, Task.load(ARBITRARY_DIR).model, painting[None])
        >>> out = net(photos)
    """
    _check_widths(widths)
    content = keras.Input((None, None, 3), name="pixels")
    encoder = build_encoder(encoder_weights)
    adapted = [FixedInstanceNorm(name=f"adain_{i}")(c)
               for i, c in enumerate(encoder(_padded_for_encoder(content, border)))]
    recoloured = FixedInstanceNorm(name="adain_pixels")(content)
    return keras.Model(content, _decoder(content, adapted, recoloured, widths, border), name=name)


def network_border(model):
    """The reflected border (pixels) an AdaIN network (arbitrary or with a style built in)
    pads photos with and crops off its output.

    Example:
        >>> network_border(build_arbitrary_net(border=16))
        16
    """
    return next(layer.border for layer in model.layers if isinstance(layer, CropLike))


def fix_style(fixed_net, arbitrary_net, style):
    """Start ``fixed_net`` (:func:`build_fixed_style_net`) as ``arbitrary_net``
    (:func:`build_arbitrary_net`, same widths) with the painting ``style`` (``[1, h, w, 3]``
    in [0, 1], at the size the arbitrary network is given it): its decoder and encoder
    weights, and the painting's channel statistics at every AdaIN."""
    trained = [layer for layer in arbitrary_net.layers if layer.weights]
    target = [layer for layer in fixed_net.layers
              if layer.weights and not isinstance(layer, FixedInstanceNorm)]
    if len(trained) != len(target):
        raise ValueError(f"arbitrary_net has {len(trained)} layers with weights, fixed_net "
                         f"{len(target)}: build both with the same widths")
    for source, dest in zip(trained, target):
        dest.set_weights(source.get_weights())
    style = tf.convert_to_tensor(style, tf.float32)
    maps = list(arbitrary_net.get_layer("encoder")(style)) + [style]
    names = [f"adain_{i}" for i in range(len(ENCODER_LAYERS))] + ["adain_pixels"]
    for name, feature in zip(names, maps):
        fixed_net.get_layer(name).set_statistics(feature)
    return fixed_net
