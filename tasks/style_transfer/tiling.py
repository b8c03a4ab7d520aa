"""Large images in overlapping tiles, blended so no seam shows; and a measure of seams.

A style network's memory grows with the image (about 1.6 GB at 2048² for the default fast
network; the inputs go up to 40 megapixels), so images with a side above ``tile`` are
stylised tile by tile. Neighbouring tiles overlap by
``overlap`` pixels and are cross-faded there with linear ramps: instance normalisation
gives each tile slightly different statistics, and a hard cut between them would show.

Example:
    >>> out = run_tiled(lambda x: net(x[None])[0].numpy(), pixels, tile=2048, overlap=128)
    >>> seam_score(out, tile_edges(pixels.shape[0], 2048, 128), axis=0)   # ~1.0: no seam
"""

import numpy as np


def tile_starts(length, tile, overlap):
    """First index of each tile along one axis: ``tile`` long, overlapping by at least
    ``overlap``, the last one flush with the end."""
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    if length <= tile:
        return [0]
    step = tile - overlap
    count = int(np.ceil((length - tile) / step)) + 1
    # spread evenly, so every overlap is at least ``overlap`` and the last tile ends at ``length``
    return [int(round(i * (length - tile) / (count - 1))) for i in range(count)]


def tile_edges(length, tile, overlap):
    """Centre of each overlap along one axis (where a seam would be), for :func:`seam_score`."""
    starts = tile_starts(length, tile, overlap)
    return [(b + min(a + tile, length)) // 2 for a, b in zip(starts[:-1], starts[1:])]


def _ramp(size, fade_start, fade_end):
    """Weights over one tile axis: rising over ``fade_start`` pixels, falling over ``fade_end``."""
    weights = np.ones(size, np.float32)
    if fade_start:
        weights[:fade_start] = (np.arange(fade_start) + 0.5) / fade_start
    if fade_end:
        weights[size - fade_end:] = np.minimum(weights[size - fade_end:],
                                               (np.arange(fade_end)[::-1] + 0.5) / fade_end)
    return weights


TILE, OVERLAP = 2048, 128


def run_tiled(fn, pixels, tile=TILE, overlap=OVERLAP, blend=True):
    """``fn`` (float ``[h, w, 3]`` -> same shape) over ``pixels`` in cross-faded tiles.

    An image within ``tile``² is one call. ``fn`` sees tiles of at most ``tile``² (smaller
    only where the image is). ``blend=False`` cuts hard at the middle of each overlap
    instead (the seams :func:`seam_score` detects).
    """
    pixels = np.asarray(pixels, np.float32)
    height, width = pixels.shape[:2]
    if height <= tile and width <= tile:
        return np.asarray(fn(pixels), np.float32)
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    out = np.zeros(pixels.shape, np.float32)
    total = np.zeros(pixels.shape[:2] + (1,), np.float32)
    for i, y in enumerate(ys):
        th = min(tile, height - y)
        # fade over the whole shared band with each neighbour (at least ``overlap`` wide)
        up = ys[i - 1] + tile - y if i else 0
        down = y + th - ys[i + 1] if i + 1 < len(ys) else 0
        for j, x in enumerate(xs):
            tw = min(tile, width - x)
            left = xs[j - 1] + tile - x if j else 0
            right = x + tw - xs[j + 1] if j + 1 < len(xs) else 0
            if blend:
                weight = np.outer(_ramp(th, up, down), _ramp(tw, left, right))[..., None]
            else:
                weight = np.zeros((th, tw, 1), np.float32)
                weight[up // 2:th - (down + 1) // 2, left // 2:tw - (right + 1) // 2] = 1.0
            result = np.asarray(fn(pixels[y:y + th, x:x + tw]), np.float32)
            out[y:y + th, x:x + tw] += result * weight
            total[y:y + th, x:x + tw] += weight
    return out / total


def seam_score(image, edges, axis):
    """How much a seam shows: the mean colour jump between neighbouring rows (``axis=0``)
    or columns (``axis=1``) at ``edges``, over the mean jump anywhere. About 1 when the
    seams are invisible; a hard seam between differently styled tiles scores well above."""
    image = np.asarray(image, np.float32)
    jumps = np.abs(np.diff(image, axis=axis)).mean(axis=(1 - axis, 2))
    if not edges:
        return 1.0
    return float(np.mean([jumps[e - 1:e + 1].mean() for e in edges]) / (jumps.mean() + 1e-8))
