"""Quality of a fast style network, measured against the optimisation it replaces.

For each held-out photograph (centre square at ``size``²), the fast network's weighted
style + content + TV loss is compared with Gatys optimisation's on the same image, style
and loss network (the loss both minimise). The ratio fast / Gatys is the quality figure:
1.0 means the one-pass network reaches what hundreds of optimisation steps reach.

Example:
    >>> result = evaluate_against_optimization(task, "data/style", size=512, limit=4)
    >>> result["loss_ratio"]
    1.21
"""

import time

import numpy as np
import tensorflow as tf

from tasks.style_transfer.data import test_images
from tasks.style_transfer.optimize import optimize_image


def centre_square(path, size):
    """A photograph's centre square, resized to ``size``², float32 [0, 1]."""
    from tasks.style_transfer.data import read_image

    image = read_image(path)
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    square = tf.cast(image[top:top + side, left:left + side], tf.float32)
    return tf.clip_by_value(tf.image.resize(square, [size, size], antialias=True) / 255.0, 0.0, 1.0)


def evaluate_against_optimization(task, data_dir, size=512, limit=None, steps=300, progress=False):
    """``{'loss_ratio', 'fast_loss', 'optimized_loss', 'fast_seconds', 'optimize_seconds',
    'speedup', 'images', 'per_image'}`` over the held-out photographs."""
    paths = test_images(data_dir)[:limit]
    loss = task.perceptual_loss()
    per_image = []
    for path in paths:
        content = centre_square(path, size)
        task.stylize_pixels(content[None])  # trace once, so the timing below is one pass
        start = time.perf_counter()
        fast = task.stylize_pixels(content[None])
        fast_seconds = time.perf_counter() - start
        fast_loss = float(loss.total(loss.terms(content[None], fast)))
        optimized = optimize_image(content, None, loss.extractor, loss, steps=steps,
                                   progress=progress)
        per_image.append({"image": path, "fast_loss": fast_loss,
                          "optimized_loss": optimized.history[-1]["total"],
                          "fast_seconds": fast_seconds, "optimize_seconds": optimized.seconds})
    mean = {k: float(np.mean([p[k] for p in per_image]))
            for k in ("fast_loss", "optimized_loss", "fast_seconds", "optimize_seconds")}
    return {"loss_ratio": float(np.mean([p["fast_loss"] / p["optimized_loss"] for p in per_image])),
            **mean, "speedup": mean["optimize_seconds"] / mean["fast_seconds"],
            "images": len(per_image), "size": size, "steps": steps, "per_image": per_image}
