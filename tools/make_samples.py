"""Regenerate pipelines/samples: six held-out-split emoji scenes (seed 2026) as *.jpg, and
video/clip.{mp4,webm,avi}: the valid videos the fuzz harness mutates (a red box moving right
for 12 frames at 8 fps, 48x32)."""

import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tasks.captioning.benchmark import make_scene  # noqa: E402
from tasks.captioning.glyphs import load_atlas  # noqa: E402
from tasks.video.io import write_video  # noqa: E402
from pipelines.fuzz import VIDEO_SAMPLES  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pipelines", "samples")

if __name__ == "__main__":
    rng, atlas = np.random.default_rng(2026), load_atlas()
    os.makedirs(OUT, exist_ok=True)
    for i in range(6):
        pixels, captions, _ = make_scene(rng, atlas, "test")
        Image.fromarray(pixels).save(os.path.join(OUT, f"scene_{i}.jpg"), quality=92)
        print(f"scene_{i}.jpg: {captions[0]}")
    frames = np.zeros([12, 32, 48, 3], np.uint8)
    for i in range(12):
        frames[i, 8:20, 3 * i:3 * i + 10] = (200, 40, 40)
    os.makedirs(os.path.join(OUT, "video"), exist_ok=True)
    for extension in VIDEO_SAMPLES:
        path = write_video(os.path.join(OUT, "video", "clip" + extension), frames, 8)
        print(f"video/clip{extension}: {os.path.getsize(path)} bytes")
