"""StyleTransferTask: one fast feed-forward network per style, trained with a perceptual loss.

The network (``model.build_transform_net``, or with ``architecture="adain"`` the
arbitrary-style network with one painting built in, ``adain.build_fixed_style_net``) learns to
lower, in one pass, the same weighted style + content + total-variation loss that
``optimize.optimize_image`` (Gatys) lowers by hundreds of gradient steps on the pixels; both
use the loss network of ``loss_network.build_extractor``.

Example:
    >>> task = StyleTransferTask(style_image="data/style/styles/great_wave_off_kanagawa.jpg")
    >>> task.fit(make_dataset(train_images("data/style")), epochs=1, steps_per_epoch=2000)
    >>> task.stylize([open("photo.jpg", "rb").read()])[0].shape      # float32 [h, w, 3]
"""

import keras
import numpy as np
import tensorflow as tf

from tasks.core.export import ExportedModel
from tasks.core.images import decode_image_bytes
from tasks.core.task import Task, register_task
from tasks.style_transfer.adain import build_fixed_style_net, fix_style, network_border
from tasks.style_transfer.loss_network import (DEFAULT_LOSS_WEIGHTS, NETWORKS, PerceptualLoss,
                                               build_extractor)
from tasks.style_transfer.model import build_transform_net
from tasks.style_transfer.slim import build_slim_net, set_recolour
from tasks.style_transfer.presets import presets as _presets
from tasks.style_transfer.tiling import OVERLAP, TILE, run_tiled


@keras.saving.register_keras_serializable(package="tasks")
class PixelPreprocessor(keras.layers.Layer):
    """Encoded image bytes (one scalar string) or pixels -> float32 ``[h, w, 3]``/batch in [0, 1].

    Images keep their size: the style network is fully convolutional. Float pixels are
    taken as already in [0, 1]; uint8 pixels are scaled.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.built = True

    def call(self, images):
        images = tf.convert_to_tensor(images)
        if images.dtype == tf.string:
            return tf.cast(decode_image_bytes(images), tf.float32) / 255.0
        if images.dtype == tf.uint8:
            return tf.cast(images, tf.float32) / 255.0
        return tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0)


class _PerceptualObjective(keras.losses.Loss):
    """``PerceptualLoss.total`` as a Keras loss: y_true is the content, y_pred the output."""

    def __init__(self, perceptual):
        super().__init__(name="perceptual")
        self.perceptual = perceptual

    def call(self, y_true, y_pred):
        total = self.perceptual.total(self.perceptual.terms(y_true, y_pred))
        return tf.fill(tf.shape(y_pred)[:1], total)  # the batch mean, once per example


class _DistillationObjective(keras.losses.Loss):
    """``weights[0]`` x the mean absolute pixel difference from a teacher network's output
    + ``weights[1]`` x the perceptual loss (skipped, with its loss network, at 0)."""

    def __init__(self, teacher, perceptual, weights):
        super().__init__(name="distillation")
        self.teacher, self.perceptual = teacher, perceptual
        self.weights = [float(w) for w in weights]

    def call(self, y_true, y_pred):
        target = tf.stop_gradient(self.teacher(y_true, training=False))
        total = self.weights[0] * tf.reduce_mean(tf.abs(y_pred - tf.cast(target, y_pred.dtype)))
        if self.weights[1]:
            total += self.weights[1] * self.perceptual.total(self.perceptual.terms(y_true, y_pred))
        return tf.fill(tf.shape(y_pred)[:1], total)


ARCHITECTURES = ("transform", "adain", "slim")
MIN_SIDE = 32  # smaller images are refused: the loss network and the padding need room


def check_min_side(pixels, what="image"):
    """ValueError when an (eager) ``[h, w, 3]`` image is under ``MIN_SIDE`` on a side."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"{what} is {width}x{height}; style transfer needs at least {MIN_SIDE} "
                         "pixels on each side")


def resize_longer_side(pixels, size):
    """Float ``[h, w, 3]`` -> the longer side at ``size`` (antialiased), aspect kept."""
    shape = tf.cast(tf.shape(pixels)[:2], tf.float32)
    new = tf.maximum(tf.cast(tf.round(shape * size / tf.reduce_max(shape)), tf.int32), 1)
    return tf.clip_by_value(tf.image.resize(pixels, new, antialias=True), 0.0, 1.0)


def to_float_pixels(image, size=None, what="image"):
    """Encoded bytes or uint8 ``[h, w, 3]`` -> float32 ``[h, w, 3]`` in [0, 1] (TF ops),
    optionally resized so the longer side is ``size``; ``what`` names it in errors."""
    pixels = PixelPreprocessor()(tf.convert_to_tensor(image))
    if size is not None:
        pixels = resize_longer_side(pixels, size)
    check_min_side(pixels, what if size is None else f"{what} (resized to longer side {size})")
    return pixels


def load_style_image(path, size):
    """A style painting as float32 ``[h, w, 3]`` in [0, 1], its shorter side at ``size``."""
    from tasks.style_transfer.data import read_image, shorter_side

    return tf.clip_by_value(shorter_side(read_image(path), size) / 255.0, 0.0, 1.0)


@register_task
class StyleTransferTask(Task):
    name = "style_transfer"
    presets = _presets
    default_config = {
        "style_name": None,              # a label for this network's style
        "style_image": None,             # path of the painting (needed to train, not to run)
        "style_size": 320,               # shorter side of the painting when its Gram matrices are taken
        "image_size": 256,               # training crop size
        # "transform": Johnson et al.'s residual network (filters, residual_blocks,
        # separable, edge_kernel); "adain": the arbitrary network's frozen encoder and
        # decoder with this style's statistics built in (widths, border; adain.py);
        # "slim": residual blocks at 1/4 resolution (slim_widths, residual_blocks,
        # block_norms; slim.py), best trained from a teacher
        "architecture": "transform",
        "filters": [16, 32, 64],
        "residual_blocks": 5,
        "separable": True,
        "edge_kernel": 5,
        "widths": [32, 64, 96],
        "border": 32,
        "slim_widths": [64, 32],
        "block_norms": 1,
        # distillation: a saved StyleTransferTask whose outputs this network learns, with
        # weights [L1 distance to the teacher's output, perceptual loss]
        "teacher": None,
        "distill_weights": [1.0, 1.0],
        "loss_network": "mobilenet_v2_nsfwjs",
        "loss_network_weights": None,    # local weights file for vgg16/vgg19
        "loss_weights": list(DEFAULT_LOSS_WEIGHTS),   # style, content, total variation
        "dtype_policy": "float32",
        "strategy": None,
    }

    def __init__(self, config=None, preprocessor=None, model=None, **overrides):
        super().__init__(config, preprocessor, model, **overrides)
        if self.config["architecture"] not in ARCHITECTURES:
            raise ValueError(f"architecture={self.config['architecture']!r} is not one of "
                             f"{list(ARCHITECTURES)}")
        if self.config["loss_network"] not in NETWORKS:
            raise ValueError(f"loss_network={self.config['loss_network']!r} is not one of "
                             f"{sorted(NETWORKS)}")
        if (model is not None and self.config["architecture"] == "adain"
                and network_border(model) != int(self.config["border"])):
            # the border holds no weights: the same weights in a network with this border
            # (``Task.load(path, border=16)``), as ArbitraryStyleTask does
            self.model = self.build_model_in_scope()
            self.model.set_weights(model.get_weights())

    def build_preprocessor(self):
        return PixelPreprocessor()

    def build_model(self):
        c = self.config
        if c["architecture"] == "adain":
            return build_fixed_style_net(tuple(c["widths"]), border=int(c["border"]))
        if c["architecture"] == "slim":
            return build_slim_net(tuple(c["slim_widths"]), c["residual_blocks"],
                                  c["block_norms"])
        return build_transform_net(tuple(c["filters"]), c["residual_blocks"], c["separable"],
                                   c["edge_kernel"])

    def start_from_arbitrary(self, arbitrary):
        """Start an ``architecture="adain"`` network from a trained :class:`ArbitraryStyleTask`
        (same widths): its weights, and this task's painting (``style_image`` at
        ``style_size``, as the arbitrary network is given paintings) built in.

        Example:
            >>> task = StyleTransferTask(architecture="adain", style_image="wave.jpg", style_size=256)
            >>> task.start_from_arbitrary(Task.load(ARBITRARY_DIR))   # 1.7x of Gatys before training
        """
        c = self.config
        if c["architecture"] != "adain":
            raise ValueError("start_from_arbitrary needs architecture='adain', this task has "
                             f"{c['architecture']!r}")
        if list(arbitrary.config["widths"]) != list(c["widths"]):
            raise ValueError(f"the arbitrary network's widths {arbitrary.config['widths']} differ "
                             f"from this task's {c['widths']}")
        if not c["style_image"]:
            raise ValueError("config['style_image'] is not set: the painting to build in")
        style = load_style_image(c["style_image"], c["style_size"])[None]
        fix_style(self.model, arbitrary.model, style)
        return self

    def start_recolour(self):
        """Start a slim network's recolouring (``adain_pixels``) at its teacher's, or, without
        a teacher, at the painting's per-channel mean and spread (``style_image`` at
        ``style_size``)."""
        c = self.config
        if c["architecture"] != "slim":
            raise ValueError(f"start_recolour needs architecture='slim', this task has "
                             f"{c['architecture']!r}")
        teacher = self.teacher() if c["teacher"] else None
        names = [layer.name for layer in teacher.layers] if teacher is not None else []
        if "adain_pixels" in names:
            self.model.get_layer("adain_pixels").set_weights(
                teacher.get_layer("adain_pixels").get_weights())
        elif c["style_image"]:
            set_recolour(self.model, load_style_image(c["style_image"], c["style_size"]))
        else:
            raise ValueError("config['style_image'] is not set and the teacher has no "
                             "recolouring: nothing to start the recolouring from")
        return self

    def teacher(self):
        """The network of the saved task at ``config['teacher']`` (cached)."""
        path = self.config["teacher"]
        if getattr(self, "_teacher", None) is None or self._teacher[0] != path:
            teacher = Task.load(path)
            if not isinstance(teacher, StyleTransferTask):
                raise ValueError(f"teacher={path!r} is a {type(teacher).__name__}; expected a "
                                 "saved StyleTransferTask (a fast network for one style)")
            teacher.model.trainable = False
            self._teacher = (path, teacher.model)
        return self._teacher[1]

    # -- losses -----------------------------------------------------------------------
    def perceptual_loss(self):
        """The loss this task trains on (and its quality is measured with); cached."""
        if getattr(self, "_perceptual", None) is None:
            c = self.config
            if not c["style_image"]:
                raise ValueError("config['style_image'] is not set: training and loss "
                                 "measurement need the style painting's path")
            extractor = build_extractor(c["loss_network"], c["loss_network_weights"])
            style = load_style_image(c["style_image"], c["style_size"])[None]
            self._perceptual = PerceptualLoss(extractor, style, c["loss_weights"])
        return self._perceptual

    def loss(self):
        c = self.config
        if c["teacher"]:
            weights = [float(w) for w in c["distill_weights"]]
            if len(weights) != 2 or min(weights) < 0 or max(weights) == 0:
                raise ValueError("distill_weights: expected [L1 weight, perceptual weight], "
                                 f"non-negative and not both 0, got {c['distill_weights']}")
            return _DistillationObjective(self.teacher(),
                                          self.perceptual_loss() if weights[1] else None, weights)
        return _PerceptualObjective(self.perceptual_loss())

    # -- inference --------------------------------------------------------------------
    def stylize_pixels(self, pixels, strength=1.0):
        """Float pixels ``[b, h, w, 3]`` in [0, 1] -> stylised, blended with the input by
        ``strength`` (graph-safe)."""
        out = self.model(pixels, training=False)
        return strength * out + (1.0 - strength) * pixels

    def _compiled(self):
        if getattr(self, "_stylize_fn", None) is None:
            spec = tf.TensorSpec([None, None, None, 3], tf.float32)
            self._stylize_fn = tf.function(
                lambda pixels, strength: self.stylize_pixels(pixels, strength),
                input_signature=[spec, tf.TensorSpec([], tf.float32)])
        return self._stylize_fn

    def stylize(self, images, strength=1.0, size=None, tile=TILE, overlap=OVERLAP):
        """Encoded image bytes and/or uint8 ``[h, w, 3]`` arrays -> list of float32
        ``[h, w, 3]`` arrays in [0, 1], each at its own size (or its longer side at ``size``).

        Images larger than ``tile``² go through the network in cross-faded tiles
        (:func:`tiling.run_tiled`), so memory stays bounded at any size.
        """
        if not 0.0 <= float(strength) <= 1.0:
            raise ValueError(f"strength must be in 0..1, got {strength!r}")
        run, amount = self._compiled(), tf.constant(float(strength))
        return [run_tiled(lambda p: run(tf.constant(p[None]), amount)[0].numpy(),
                          to_float_pixels(image, size).numpy(), tile, overlap)
                for image in images]

    def serving_endpoints(self):
        def from_bytes(images):
            def one(data):
                out = self.stylize_pixels(self.preprocessor(data)[None])[0]
                return tf.io.encode_png(tf.cast(tf.round(out * 255.0), tf.uint8))
            return {"images": tf.map_fn(one, images, fn_output_signature=tf.string)}

        def from_pixels(pixels):
            return {"pixels": self.stylize_pixels(self.preprocessor(pixels))}

        return {
            "stylize_bytes": (from_bytes, [tf.TensorSpec([None], tf.string, name="images")]),
            "stylize_pixels": (from_pixels, [tf.TensorSpec([None, None, None, 3], tf.float32,
                                                           name="pixels")]),
        }

    # -- evaluation -------------------------------------------------------------------
    def evaluate_images(self, images):
        """Weighted perceptual loss of the stylised images (float [h, w, 3] in [0, 1] each):
        ``{'style', 'content', 'tv', 'total'}`` means, and the per-image totals."""
        loss = self.perceptual_loss()
        totals, sums = [], {"style": 0.0, "content": 0.0, "tv": 0.0}
        for image in images:
            pixels = tf.convert_to_tensor(np.asarray(image, np.float32))[None]
            terms = loss.terms(pixels, self.stylize_pixels(pixels))
            totals.append(float(loss.total(terms)))
            for k in sums:
                sums[k] += float(terms[k]) / len(images)
        return {**sums, "total": float(np.mean(totals)), "totals": totals}


class ExportedStylizer(ExportedModel):
    """An exported style network, called like :meth:`StyleTransferTask.stylize`."""

    def stylize(self, images, strength=1.0, size=None, tile=TILE, overlap=OVERLAP):
        results = []
        for image in images:
            pixels = to_float_pixels(image, size).numpy()
            if isinstance(image, (bytes, bytearray)) and size is None \
                    and max(pixels.shape[:2]) <= tile:
                out = self.run("serving_default", "images", images=tf.constant([bytes(image)]))[0]
                out = tf.io.decode_png(out).numpy().astype(np.float32) / 255.0
            else:
                out = run_tiled(lambda p: self.run("stylize_pixels", "pixels",
                                                   pixels=tf.constant(p[None]))[0],
                                pixels, tile, overlap)
            # the blend is outside the exported graph: the same formula as the task's
            results.append(strength * out + (1.0 - strength) * pixels)
        return results


# Registered beside the fast networks, so Task.load finds a saved arbitrary network too.
from tasks.style_transfer import arbitrary_task  # noqa: E402


def open_exported_stylizer(path):
    """Load an exported style network: a fast one, or the arbitrary-style one (whose
    ``serving_default`` also takes ``styles``), each with its own ``stylize``.

    Example:
        >>> net = open_exported_stylizer("exported/great_wave")
        >>> net.stylize([pixels])[0].shape
    """
    model = ExportedStylizer(path)
    if "styles" in model.input_names():
        return arbitrary_task.ExportedArbitraryStylizer(path, loaded=model._loaded)
    return model


StyleTransferTask.exported_class = staticmethod(open_exported_stylizer)
