"""Regenerate pipelines/samples/*.jpg: six held-out-split emoji scenes (seed 2026)."""

import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tasks.captioning.benchmark import make_scene  # noqa: E402
from tasks.captioning.glyphs import load_atlas  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pipelines", "samples")

if __name__ == "__main__":
    rng, atlas = np.random.default_rng(2026), load_atlas()
    os.makedirs(OUT, exist_ok=True)
    for i in range(6):
        pixels, captions, _ = make_scene(rng, atlas, "test")
        Image.fromarray(pixels).save(os.path.join(OUT, f"scene_{i}.jpg"), quality=92)
        print(f"scene_{i}.jpg: {captions[0]}")
