"""Optimisation-based style transfer (Gatys et al., arXiv 1508.06576): the quality reference.

The pixels of the output are the variables: starting from the content image, Adam lowers
the weighted style (Gram matrices over several layers) + content + total-variation loss
of :class:`~tasks.style_transfer.loss_network.PerceptualLoss`. Slow (hundreds of loss-
network passes per image) but needs no training, and works for any style image.

Example:
    >>> result = optimize_image(content, style, steps=300)    # float32 [h, w, 3] in [0, 1]
    >>> result.history[-1]["total"] < result.history[0]["total"]
    True
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tasks.style_transfer.loss_network import PerceptualLoss, build_extractor


@dataclasses.dataclass
class OptimizedImage:
    image: np.ndarray          # float32 [h, w, 3] in [0, 1]
    history: list              # per logged step: {'step', 'style', 'content', 'tv', 'total'}
    seconds: float


def _batch(image):
    from tasks.style_transfer.task import check_min_side

    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an RGB image [h, w, 3] in [0, 1], got shape {image.shape}")
    check_min_side(image, "image")
    return image[None]


def optimize_image(content, style, extractor=None, loss=None, steps=300, learning_rate=0.02,
                   log_every=25, progress=True):
    """Stylise ``content`` (float [h, w, 3] in [0, 1]) like ``style`` by optimising pixels.

    ``extractor`` defaults to the bundled loss network; ``loss`` (a PerceptualLoss) to one
    with its default weights for ``style``.
    """
    import time

    import keras
    from tqdm.auto import tqdm

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    content = _batch(content)
    extractor = extractor or build_extractor()
    loss = loss or PerceptualLoss(extractor, _batch(style))
    content_features = extractor(content)[loss.n_style:]
    pixels = tf.Variable(content)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function(autograph=False)  # no Python control flow inside; skip the conversion
    def step():
        with tf.GradientTape() as tape:
            terms = loss.terms(content, pixels, content_features)
            total = loss.total(terms)
        optimizer.apply([tape.gradient(total, pixels)], [pixels])
        pixels.assign(tf.clip_by_value(pixels, 0.0, 1.0))
        return dict(terms, total=total)

    history, start = [], time.time()
    for i in tqdm(range(steps + 1), desc="optimising pixels", disable=not progress):
        if i == steps:  # the loss of the final image
            terms = loss.terms(content, pixels, content_features)
            terms = dict(terms, total=loss.total(terms))
        else:
            terms = step()
        if i % log_every == 0 or i == steps:
            history.append({"step": i, **{k: float(v) for k, v in terms.items()}})
    return OptimizedImage(pixels.numpy()[0], history, time.time() - start)


def stylize_by_optimization(images, style, strength=1.0, size=None, steps=300, progress=True):
    """The pipeline's ``method="optimize"``: each image (bytes or uint8 ``[h, w, 3]``) stylised
    like ``style`` (same kinds) with :func:`optimize_image`; float32 ``[h, w, 3]`` results."""
    from tasks.style_transfer.task import to_float_pixels

    style_pixels = to_float_pixels(style, size)
    extractor = build_extractor()
    loss = PerceptualLoss(extractor, style_pixels[None])
    results = []
    for image in images:
        content = to_float_pixels(image, size)
        out = optimize_image(content, style_pixels, extractor, loss, steps=steps,
                             progress=progress).image
        results.append(strength * out + (1.0 - strength) * content.numpy())
    return results

