"""ArbitraryStyleTask: one network for every style image (AdaIN, Huang & Belongie 2017).

Trained like the fast networks, on the same perceptual loss, but each training example
pairs a photograph with a different painting; the network (``adain.build_arbitrary_net``)
sees the painting as a second input. Its quality against a painting is measured exactly
as a fast network's is (:meth:`with_style` gives the view the evaluation expects).

Example:
    >>> task = ArbitraryStyleTask.from_preset("arbitrary")
    >>> out = task.stylize([photo_bytes], style=painting_bytes, strength=0.8)[0]  # [h, w, 3]
"""

import keras
import tensorflow as tf

from tasks.core.export import ExportedModel
from tasks.core.task import Task, register_task
from tasks.style_transfer.adain import build_arbitrary_net, network_border
from tasks.style_transfer.loss_network import DEFAULT_LOSS_WEIGHTS, PerceptualLoss, build_extractor
from tasks.style_transfer.presets import arbitrary_presets
from tasks.style_transfer.task import PixelPreprocessor, load_style_image, to_float_pixels
from tasks.style_transfer.tiling import OVERLAP, TILE, run_tiled


class _PairedObjective(keras.losses.Loss):
    """The perceptual loss of a batch of (content, style) pairs: ``y_true`` stacks content
    and style (its ``style_crop``² corner) on the channels, ``y_pred`` is the stylised batch."""

    def __init__(self, perceptual, style_crop=None):
        super().__init__(name="perceptual")
        self.perceptual = perceptual
        self.style_crop = style_crop

    def call(self, y_true, y_pred):
        from tasks.style_transfer.data import split_pair_target

        content, style = split_pair_target(y_true, self.style_crop)
        terms = self.perceptual.paired_terms(content, style, y_pred)
        return tf.fill(tf.shape(y_pred)[:1], self.perceptual.total(terms))


def style_at(pixels, side):
    """Float style pixels ``[b, h, w, 3]`` -> shorter side at ``side`` (TF ops, antialiased)."""
    from tasks.style_transfer.data import shorter_side

    return tf.clip_by_value(shorter_side(pixels, side), 0.0, 1.0)


@register_task
class ArbitraryStyleTask(Task):
    name = "arbitrary_style"
    presets = arbitrary_presets
    default_config = {
        "style_size": 256,               # shorter side a style image is resized to
        "image_size": 128,               # training crop size (photos and paintings)
        "widths": [32, 64, 96],          # decoder filters at 1/2, 1/4, 1/8 resolution
        # reflected pixels around the photo before the encoder: its stride-2 stages pad
        # zeros on the bottom and right only, and with 16 a band of colour reached into
        # the output's right and bottom edges
        "border": 32,
        "loss_network": "mobilenet_v2_nsfwjs",
        "loss_weights": list(DEFAULT_LOSS_WEIGHTS),
        "dtype_policy": "float32",
        "strategy": None,
    }

    def __init__(self, config=None, preprocessor=None, model=None, **overrides):
        super().__init__(config, preprocessor, model, **overrides)
        border = int(self.config["border"])
        if model is not None and network_border(model) != border:
            # the border holds no weights: the same weights in a network with this border
            # (a network saved before the border was 32, or ``Task.load(path, border=16)``)
            self.model = self.build_model_in_scope()
            self.model.set_weights(model.get_weights())

    def build_preprocessor(self):
        return PixelPreprocessor()

    def build_model(self):
        return build_arbitrary_net(tuple(self.config["widths"]), border=int(self.config["border"]))

    # -- losses -----------------------------------------------------------------------
    def perceptual_loss(self):
        """The loss without a fixed style (styles come with each batch); cached."""
        if getattr(self, "_perceptual", None) is None:
            self._perceptual = PerceptualLoss(build_extractor(self.config["loss_network"]),
                                              weights=self.config["loss_weights"])
        return self._perceptual

    def style_crop(self):
        """The side of the painting crops it trains on: the photos' crop, or the painting's
        shorter side at inference when that is smaller (512² photos, 256² painting crops)."""
        return min(int(self.config["image_size"]), int(self.config["style_size"]))

    def loss(self):
        return _PairedObjective(self.perceptual_loss(), self.style_crop())

    # -- inference --------------------------------------------------------------------
    def stylize_pixels(self, pixels, style_pixels, strength=1.0):
        """Float ``[b, h, w, 3]`` photos and ``[b or 1, hs, ws, 3]`` styles in [0, 1] ->
        stylised ``[b, h, w, 3]`` (graph-safe); the styles are resized to ``style_size``."""
        pixels = tf.convert_to_tensor(pixels, tf.float32)
        strength = tf.broadcast_to(tf.cast(strength, tf.float32), tf.shape(pixels)[:1])
        style = style_at(tf.convert_to_tensor(style_pixels, tf.float32), self.config["style_size"])
        return self.model({"content": pixels, "style": style, "strength": strength},
                          training=False)

    def _compiled(self):
        if getattr(self, "_stylize_fn", None) is None:
            spec = tf.TensorSpec([None, None, None, 3], tf.float32)
            self._stylize_fn = tf.function(self.stylize_pixels, input_signature=[
                spec, spec, tf.TensorSpec([], tf.float32)])
        return self._stylize_fn

    def stylize(self, images, style, strength=1.0, size=None, tile=TILE, overlap=OVERLAP):
        """Encoded bytes and/or uint8 ``[h, w, 3]`` arrays, and one style image (the same
        kinds) -> list of float32 ``[h, w, 3]`` in [0, 1] (each at its own size, or its
        longer side at ``size``); images above ``tile``² in cross-faded tiles."""
        if not 0.0 <= float(strength) <= 1.0:
            raise ValueError(f"strength must be in 0..1, got {strength!r}")
        style_pixels = to_float_pixels(style, what="style image")[None]
        run, amount = self._compiled(), tf.constant(float(strength))
        return [run_tiled(lambda p: run(tf.constant(p[None]), style_pixels, amount)[0].numpy(),
                          to_float_pixels(image, size).numpy(), tile, overlap)
                for image in images]

    def with_style(self, style_image):
        """A view with one style image fixed (a path): ``stylize_pixels(pixels)`` and
        ``perceptual_loss()`` as a fast network's task has them, for the evaluation."""
        return _FixedStyle(self, style_image)

    def serving_endpoints(self):
        def from_bytes(images, styles, strength):
            def one(args):
                data, style_data, amount = args
                content = self.preprocessor(data)[None]
                style = self.preprocessor(style_data)[None]
                out = self.stylize_pixels(content, style, amount)[0]
                return tf.io.encode_png(tf.cast(tf.round(out * 255.0), tf.uint8))
            return {"images": tf.map_fn(one, (images, styles, strength),
                                        fn_output_signature=tf.string)}

        def from_pixels(pixels, style_pixels, strength):
            return {"pixels": self.stylize_pixels(self.preprocessor(pixels),
                                                  self.preprocessor(style_pixels), strength)}

        pixel_spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        return {
            "stylize_bytes": (from_bytes, [tf.TensorSpec([None], tf.string, name="images"),
                                           tf.TensorSpec([None], tf.string, name="styles"),
                                           tf.TensorSpec([None], tf.float32, name="strength")]),
            "stylize_pixels": (from_pixels, [
                tf.TensorSpec.from_spec(pixel_spec, name="pixels"),
                tf.TensorSpec.from_spec(pixel_spec, name="style_pixels"),
                tf.TensorSpec([None], tf.float32, name="strength")]),
        }


class _FixedStyle:
    """An ArbitraryStyleTask with its style image fixed (the fast-network interface)."""

    def __init__(self, task, style_image):
        self.task = task
        self.style_image = style_image
        self.style = load_style_image(style_image, task.config["style_size"])[None]
        self._loss = None

    def stylize_pixels(self, pixels, strength=1.0):
        return self.task.stylize_pixels(pixels, self.style, strength)

    def perceptual_loss(self):
        if self._loss is None:
            base = self.task.perceptual_loss()
            self._loss = PerceptualLoss(base.extractor, self.style, self.task.config["loss_weights"])
        return self._loss


class ExportedArbitraryStylizer(ExportedModel):
    """An exported arbitrary-style network, called like :meth:`ArbitraryStyleTask.stylize`."""

    def stylize(self, images, style, strength=1.0, size=None, tile=TILE, overlap=OVERLAP):
        style_pixels = tf.constant(to_float_pixels(style, what="style image").numpy()[None])
        amount = tf.constant([float(strength)])
        return [run_tiled(lambda p: self.run("stylize_pixels", "pixels", pixels=tf.constant(p[None]),
                                             style_pixels=style_pixels, strength=amount)[0],
                          to_float_pixels(image, size).numpy(), tile, overlap)
                for image in images]


ArbitraryStyleTask.exported_class = ExportedArbitraryStylizer
