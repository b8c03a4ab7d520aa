"""Burn annotations into a copy of a video: the frame's label and score at the top, the
caption of its window at the bottom.

Example:
    >>> result = pipelines.annotate_video("clip.mp4")
    >>> render_annotations("clip.mp4", result, "clip.annotated.mp4")
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tasks.video.io import iter_frames, write_video


def _fit(frame, width):
    h, w = frame.shape[:2]
    height = max(2, int(round(h * width / w / 2)) * 2)
    return Image.fromarray(frame).resize((width, height), Image.BILINEAR)


def render_annotations(video, result, output, width=320):
    """Write ``output`` (codec from its extension) with ``result``'s per-frame labels and
    window captions drawn on the frames it annotated; returns ``output``."""
    frames = result["frames"]
    fps = 1.0 / (frames[1]["time"] - frames[0]["time"]) if len(frames) > 1 else 8.0
    font = ImageFont.load_default()

    def drawn():
        source = video if not isinstance(video, np.ndarray) else None
        stream = (iter_frames(source, fps) if source is not None
                  else ((i / fps, f) for i, f in enumerate(video)))
        for (_, frame), info in zip(stream, frames):
            image = _fit(frame, width)
            draw = ImageDraw.Draw(image)
            window = next((w for w in result["windows"] if w["start"] <= info["time"] < w["end"]),
                          result["windows"][-1])
            draw.rectangle([0, 0, image.width, 14], fill=(0, 0, 0))
            draw.text((3, 2), f"{info['time']:6.2f}s  {info['label']}  {info['score']:.2f}",
                      fill=(255, 255, 0), font=font)
            draw.rectangle([0, image.height - 14, image.width, image.height], fill=(0, 0, 0))
            draw.text((3, image.height - 12), window["caption"][: width // 6], fill=(255, 255, 255),
                      font=font)
            yield np.asarray(image)

    return write_video(output, drawn(), fps)
