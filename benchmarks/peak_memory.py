"""Peak memory of one pipeline call at its documented input limit, in this (fresh) process.

    python benchmarks/peak_memory.py caption      # a 40-megapixel JPEG (pipelines.inputs.MAX_PIXELS)
    python benchmarks/peak_memory.py translate    # a text just under MAX_TEXT_CHARS

The model is loaded (and traced) by a small call first, so the figures separate what the
model costs from what the big input costs. Prints one JSON object.
"""

import argparse
import io
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import pipelines  # noqa: E402
from tasks.core.memory import peak_rss_mb  # noqa: E402
from pipelines import inputs  # noqa: E402


def _peak_mb():
    return peak_rss_mb()


def _big_jpeg(width=8000, height=5000):
    """Gradients (not noise) so the file is small and decodes to the full pixel count."""
    if width * height > inputs.MAX_PIXELS:
        raise ValueError(f"{width}x{height} is over MAX_PIXELS={inputs.MAX_PIXELS}")
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    pixels = np.stack([np.tile(ramp, (height, 1)), np.tile(ramp[::-1], (height, 1)),
                       np.full((height, width), 128, np.float32)], -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue(), f"{width}x{height} JPEG"


def _long_text(seed=0):
    rng = random.Random(seed)
    words = ("the file could not be opened because the disk is full please try again later "
             "with another name").split()
    sentences = []
    while sum(len(s) + 1 for s in sentences) < inputs.MAX_TEXT_CHARS - 200:
        sentences.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 14))).capitalize() + ".")
    text = " ".join(sentences)
    return text, f"{len(text)} characters, {len(sentences)} sentences"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", choices=["caption", "translate"])
    args = parser.parse_args(argv)
    if args.pipeline == "caption":
        data, what = _big_jpeg()
        warm, call = (lambda: pipelines.caption(np.zeros((64, 64, 3), np.uint8))), (lambda: pipelines.caption(data))
    else:
        data, what = _long_text()
        warm, call = (lambda: pipelines.translate("Open the file.")), (lambda: pipelines.translate(data))
    warm()
    before, t0 = _peak_mb(), time.time()
    call()
    print(json.dumps({"pipeline": args.pipeline, "input": what, "seconds": round(time.time() - t0, 1),
                      "peak_rss_mb_before_call": round(before), "peak_rss_mb": round(_peak_mb())}))


if __name__ == "__main__":
    main()
