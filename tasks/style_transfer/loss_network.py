"""Loss networks: a frozen pretrained CNN whose features define "style" and "content".

Three kinds, chosen by name:
- ``"mobilenet_v2_nsfwjs"`` (the default, bundled): the ImageNet-initialised MobileNetV2
  base of the npm package ``nsfwjs`` 4.4.0 (MIT), converted by
  ``tools/convert_loss_network.py`` and cut after the deepest layer used here. Its
  pre-activation (batch-norm) outputs are used: the ReLU6 outputs saturate and lose colour.
- ``"vgg19"`` / ``"vgg16"``: ``keras.applications`` with ImageNet weights read from a local
  ``weights=`` file (e.g. ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``); nothing is
  downloaded, and a missing file is a clear error.
- ``"vgg19_random"``: VGG19 with seeded random weights, the known weaker fallback.

Every extractor takes float RGB in [0, 1] of any size and returns the list of feature maps
``style_layers + content_layers``.

Example:
    >>> extractor = build_extractor("mobilenet_v2_nsfwjs")
    >>> loss = PerceptualLoss(extractor, style_image)     # style targets computed once
    >>> terms = loss.terms(content_images, stylised_images)   # {'style', 'content', 'tv'}
"""

import os

import keras
import numpy as np
import tensorflow as tf

WEIGHTS = os.path.join(os.path.dirname(__file__), "weights", "loss_networks")
BUNDLED = os.path.join(WEIGHTS, "mobilenet_v2_nsfwjs.keras")
_VGG_MEAN_BGR = (103.939, 116.779, 123.68)
# (style, content, total variation): one setting for optimisation, training and evaluation,
# so their losses compare.
DEFAULT_LOSS_WEIGHTS = (3.0, 1.0, 10.0)

NETWORKS = {
    "mobilenet_v2_nsfwjs": {
        # "pixels" (the colour palette) and the first conv carry colour; the deeper blocks
        # texture. The first two are down-weighted: alone they make high-frequency noise.
        "style": ["pixels", "bn_Conv1", "block_1_expand_BN", "block_3_expand_BN",
                  "block_6_expand_BN", "block_10_expand_BN"],
        "layer_weights": [1.0, 0.1, 0.3, 1.0, 1.0, 1.0],
        "content": ["block_3_expand_relu"],
    },
    "vgg19": {"style": ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1",
                        "block5_conv1"], "content": ["block4_conv2"]},
    "vgg16": {"style": ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"],
              "content": ["block3_conv3"]},
}
NETWORKS["vgg19_random"] = NETWORKS["vgg19"]


@keras.saving.register_keras_serializable(package="tasks")
class AffineColor(keras.layers.Layer):
    """Fixed per-pixel colour transform ``y = x @ matrix + bias`` (e.g. [0,1] RGB -> a
    network's expected input: caffe-style BGR minus the ImageNet mean, or [-1, 1])."""

    def __init__(self, matrix, bias, **kwargs):
        super().__init__(**kwargs)
        self.matrix = [[float(v) for v in row] for row in np.asarray(matrix)]
        self.bias = [float(v) for v in np.asarray(bias)]

    def call(self, x):
        matrix = tf.constant(self.matrix, dtype=x.dtype)
        return tf.tensordot(x, matrix, axes=[[-1], [0]]) + tf.constant(self.bias, dtype=x.dtype)

    def compute_output_shape(self, shape):
        return (*shape[:-1], len(self.bias))

    def get_config(self):
        return {**super().get_config(), "matrix": self.matrix, "bias": self.bias}


def _vgg_input():
    flip = np.eye(3)[::-1] * 255.0  # RGB [0,1] -> BGR [0,255]
    return AffineColor(flip, -np.asarray(_VGG_MEAN_BGR), name="vgg_input")


def _base(name, weights):
    if name == "mobilenet_v2_nsfwjs":
        path = weights or BUNDLED
        if not os.path.isfile(path):
            raise ValueError(f"weights={path!r}: the converted MobileNetV2 is missing; rebuild it "
                             "with 'python tools/convert_loss_network.py'")
        return keras.saving.load_model(path, compile=False, safe_mode=True), \
            AffineColor(np.eye(3) * 2.0, [-1.0] * 3, name="mobilenet_input")
    if name in ("vgg19", "vgg16"):
        if weights is None or not os.path.isfile(weights):
            raise ValueError(f"loss network {name!r} needs ImageNet weights from a local file: pass "
                             f"weights=PATH to keras.applications' {name} no-top .h5 (given "
                             f"{weights!r}); nothing is downloaded")
        build = keras.applications.VGG19 if name == "vgg19" else keras.applications.VGG16
        return build(include_top=False, weights=weights, input_shape=(None, None, 3)), _vgg_input()
    if name == "vgg19_random":
        base = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
        rng = np.random.default_rng(0)  # seeded here, so no global random state is touched
        for layer in base.layers:
            if layer.weights:
                kernel, bias = layer.get_weights()
                limit = np.sqrt(6.0 / (np.prod(kernel.shape[:-1]) + kernel.shape[-1]))
                layer.set_weights([rng.uniform(-limit, limit, kernel.shape).astype("float32"),
                                   np.zeros_like(bias)])
        return base, _vgg_input()
    raise ValueError(f"loss network {name!r} is not one of {sorted(NETWORKS)}")


def build_extractor(name="mobilenet_v2_nsfwjs", weights=None, style_layers=None,
                    content_layers=None):
    """A frozen functional model: RGB [0,1] ``[b, h, w, 3]`` -> style maps + content maps.

    Example:
        >>> extractor = build_extractor("vgg19", weights="vgg19_notop.h5")
        >>> len(extractor.outputs)    # 5 style layers + 1 content layer
        6

    ``"pixels"`` as a layer name is the network's input itself (its Gram matrix is the
    colour palette).
    """
    if name not in NETWORKS:
        raise ValueError(f"loss network {name!r} is not one of {sorted(NETWORKS)}")
    style_layers = list(style_layers or NETWORKS[name]["style"])
    content_layers = list(content_layers or NETWORKS[name]["content"])
    base, to_input = _base(name, weights)
    inputs = keras.Input((None, None, 3), name="pixels")
    x = to_input(inputs)
    # Re-wire the base on our input: the layers (and weights) are shared, the preprocessing
    # is part of the graph.
    # "pixels" names the network's own input: its Gram matrix is the colour palette.
    wanted = [n for n in style_layers + content_layers if n != "pixels"]
    features = keras.Model(base.inputs, [base.get_layer(n).output for n in wanted])
    computed = dict(zip(wanted, features(x)), pixels=x)
    extractor = keras.Model(inputs, [computed[n] for n in style_layers + content_layers],
                            name=f"{name}_features")
    extractor.trainable = False
    extractor.style_layers, extractor.content_layers = style_layers, content_layers
    extractor.network_name = name
    return extractor


def gram_matrix(features):
    """``[b, h, w, c]`` -> ``[b, c, c]`` channel correlations, averaged over positions."""
    features = tf.cast(features, tf.float32)
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], shape[1] * shape[2], shape[3]])
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(shape[1] * shape[2], tf.float32)


def total_variation(images):
    """Mean absolute difference of neighbouring pixels (smoothness)."""
    return (tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]))
            + tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1])))


class PerceptualLoss:
    """Style (Gram) + content (features) + total-variation loss against one style image.

    Each layer's term is normalised by the size of its target (the style image's Gram
    matrix, the content image's features), so the weights mean the same for every loss
    network. ``weights = (style, content, tv)``; :meth:`total` is what optimisation and
    training minimise and what the quality targets compare.
    """

    def __init__(self, extractor, style_image=None, weights=DEFAULT_LOSS_WEIGHTS,
                 layer_weights=None):
        self.extractor = extractor
        self.n_style = len(extractor.style_layers)
        self.weights = tuple(float(w) for w in weights)
        if layer_weights is None:
            spec = NETWORKS.get(getattr(extractor, "network_name", None), {})
            same_layers = spec.get("style") == list(extractor.style_layers)
            layer_weights = spec.get("layer_weights") if same_layers else None
        self.layer_weights = [float(w) for w in (layer_weights or [1.0] * self.n_style)]
        if len(self.layer_weights) != self.n_style:
            raise ValueError(f"layer_weights: expected {self.n_style} values (one per style "
                             f"layer), got {len(self.layer_weights)}")
        self.style_grams = self.style_scales = None  # no fixed style: pass style_targets
        if style_image is not None:
            style = tf.convert_to_tensor(style_image, tf.float32)
            if style.shape.rank == 3:
                style = style[None]
            self.style_grams, self.style_scales = self.style_targets(style)

    def style_targets(self, style_images):
        """Gram matrices ``[b, c, c]`` of the style layers and their scales ``[b, 1, 1]``
        (one per image: each example of a batch may have its own style)."""
        grams = [gram_matrix(f) for f in self.extractor(style_images)[:self.n_style]]
        return grams, [tf.reduce_mean(tf.square(g), axis=[1, 2], keepdims=True) for g in grams]

    def terms(self, content, stylised, content_features=None, style_targets=None):
        """``{'style', 'content', 'tv'}`` means over the batch (unweighted).

        ``style_targets`` (from :meth:`style_targets`) replaces the style image given at
        construction, e.g. for a batch of different styles.
        """
        outputs = self.extractor(stylised)
        if content_features is None:
            content_features = self.extractor(content)[self.n_style:]
        grams, scales = style_targets or (self.style_grams, self.style_scales)
        if grams is None:
            raise ValueError("style_targets is required: this loss was built without a style image")
        return self._terms(outputs, content_features, grams, scales, stylised)

    def _terms(self, outputs, content_features, grams, scales, stylised):
        style = tf.add_n([w * tf.reduce_mean(tf.square(gram_matrix(f) - g) / s)
                          for f, g, s, w in zip(outputs[:self.n_style], grams, scales,
                                                self.layer_weights)])
        content_term = tf.add_n([
            tf.reduce_mean(tf.square(tf.cast(f, tf.float32) - tf.cast(t, tf.float32)))
            / (tf.reduce_mean(tf.square(tf.cast(t, tf.float32))) + 1e-8)
            for f, t in zip(outputs[self.n_style:], content_features)])
        return {"style": style, "content": content_term, "tv": total_variation(stylised)}

    def paired_terms(self, content, style, stylised):
        """Terms for a batch where example ``i`` is ``content[i]`` in the style of
        ``style[i]``. Styles the size of the photos share one loss-network pass with them;
        a style batch of another size (e.g. 256² painting crops for 512² photos) gets its
        own pass."""
        n = tf.shape(content)[0]
        if style.shape[1:3].is_fully_defined() and style.shape[1:3] == content.shape[1:3]:
            features = self.extractor(tf.concat([stylised, content, style], axis=0))
            outputs = [f[:n] for f in features]
            content_features = [f[n:2 * n] for f in features[self.n_style:]]
            grams = [gram_matrix(f[2 * n:]) for f in features[:self.n_style]]
            scales = [tf.reduce_mean(tf.square(g), axis=[1, 2], keepdims=True) for g in grams]
        else:
            features = self.extractor(tf.concat([stylised, content], axis=0))
            outputs = [f[:n] for f in features]
            content_features = [f[n:] for f in features[self.n_style:]]
            grams, scales = self.style_targets(style)
        return self._terms(outputs, content_features, grams, scales, stylised)

    def total(self, terms):
        return (self.weights[0] * terms["style"] + self.weights[1] * terms["content"]
                + self.weights[2] * terms["tv"])
