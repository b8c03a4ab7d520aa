"""Readers for annotated video folders, in the layouts real data sets use.

* Clip captions: MSR-VTT's JSON (``{"videos": [{"video_id", "split"...}], "sentences":
  [{"video_id", "caption"}]}``) or the MSVD-style mapping ``{clip_id: [caption, ...]}``.
* Labels over time: a CSV with a header ``clip,start,end,label`` (seconds), one row per
  segment; a per-frame file is the same with one-frame segments.
* Clips: ``<video_dir>/<clip_id>.<mp4|webm|mkv|avi|mov>``.

:func:`read_annotated_videos` joins the three into examples ``{"id", "path", "captions",
"segments"}``; :func:`frame_labels` turns segments into one label per decoded frame time.
The built-in benchmark (``benchmark.py``) is written in exactly these layouts.

Example:
    >>> examples = read_annotated_videos("data/video/videos/test",
    ...     captions="data/video/annotations/captions_test.json",
    ...     segments="data/video/annotations/segments_test.csv")
    >>> frame_labels(examples[0]["segments"], [0.0, 0.125, 0.25])
    ['none', 'enter', 'enter']
"""

import csv
import json
import os

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov")
BACKGROUND = "none"


def read_caption_json(path, split=None):
    """``{clip_id: [captions]}`` from an MSR-VTT or MSVD-style JSON file.

    ``split`` keeps only MSR-VTT videos whose ``"split"`` is that value.
    """
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, dict) and "sentences" in data:
        keep = None
        if split is not None:
            keep = {v["video_id"] for v in data.get("videos", []) if v.get("split") == split}
        captions = {}
        for video in data.get("videos", []):
            if keep is None or video["video_id"] in keep:
                captions.setdefault(video["video_id"], [])
        for s in data["sentences"]:
            if keep is None or s["video_id"] in keep:
                captions.setdefault(s["video_id"], []).append(s["caption"])
        return captions
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        if split is not None:
            raise ValueError(f"split={split!r} needs an MSR-VTT file with a 'videos' list; "
                             f"{path!r} is a plain clip -> captions mapping")
        return {str(k): [str(c) for c in v] for k, v in data.items()}
    raise ValueError(f"{path!r} is neither MSR-VTT JSON ('videos' and 'sentences') nor a "
                     "{clip_id: [captions]} mapping")


def read_segments_csv(path):
    """``{clip_id: [(start, end, label), ...]}`` (sorted by start) from a CSV with the header
    ``clip,start,end,label``."""
    segments = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"clip", "start", "end", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path!r} lacks the column(s) {sorted(missing)}; expected a header "
                             "clip,start,end,label")
        for line, row in enumerate(reader, start=2):
            try:
                start, end = float(row["start"]), float(row["end"])
            except ValueError as e:
                raise ValueError(f"{path!r} line {line}: start/end must be seconds, got "
                                 f"{row['start']!r}, {row['end']!r}") from e
            if not 0 <= start < end:
                raise ValueError(f"{path!r} line {line}: need 0 <= start < end, got {start}, {end}")
            segments.setdefault(row["clip"], []).append((start, end, row["label"]))
    return {clip: sorted(rows) for clip, rows in segments.items()}


def frame_labels(segments, times, background=BACKGROUND):
    """The label of the segment holding each time (start inclusive, end exclusive), or
    ``background`` where none does."""
    labels = []
    for t in np.asarray(times, np.float64):
        label = background
        for start, end, name in segments:
            if start - 1e-6 <= t < end - 1e-6:
                label = name
                break
        labels.append(label)
    return labels


def segments_from_labels(labels, times, background=BACKGROUND, frame_duration=None):
    """The inverse of :func:`frame_labels`: runs of one label -> ``[(start, end, label)]``,
    background runs left out. A run ends where the next frame starts; the last frame
    lasts ``frame_duration`` (default: the median gap between frame times)."""
    times = np.asarray(times, np.float64)
    if len(labels) != len(times):
        raise ValueError(f"labels ({len(labels)}) and times ({len(times)}) differ in length")
    if frame_duration is None:
        frame_duration = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    ends = np.append(times[1:], times[-1] + frame_duration) if len(times) else times
    segments, i = [], 0
    while i < len(labels):
        j = i
        while j + 1 < len(labels) and labels[j + 1] == labels[i]:
            j += 1
        if labels[i] != background:
            segments.append((float(times[i]), float(ends[j]), labels[i]))
        i = j + 1
    return segments


def find_clip(video_dir, clip_id):
    """The path of ``clip_id`` in ``video_dir`` with any known video extension, or None."""
    for extension in VIDEO_EXTENSIONS:
        path = os.path.join(video_dir, clip_id + extension)
        if os.path.isfile(path):
            return path
    return None


def read_annotated_videos(video_dir, captions=None, segments=None, split=None):
    """Examples ``{"id", "path", "captions", "segments"}`` for every clip named in the
    caption or segment file, sorted by id. A named clip missing from ``video_dir`` is an
    error (a silently smaller data set would skew every metric)."""
    if captions is None and segments is None:
        raise ValueError("pass captions= (caption JSON) and/or segments= (segment CSV)")
    if not os.path.isdir(video_dir):
        raise ValueError(f"video_dir={video_dir!r} is not a directory")
    by_clip = read_caption_json(captions, split) if captions else {}
    spans = read_segments_csv(segments) if segments else {}
    if captions and segments:
        spans = {k: v for k, v in spans.items() if k in by_clip}
    examples, missing = [], []
    for clip in sorted(set(by_clip) | set(spans)):
        path = find_clip(video_dir, clip)
        if path is None:
            missing.append(clip)
            continue
        examples.append({"id": clip, "path": path, "captions": by_clip.get(clip, []),
                         "segments": spans.get(clip, [])})
    if missing:
        raise ValueError(f"{len(missing)} annotated clip(s) have no file in {video_dir!r} "
                         f"(looked for {', '.join(VIDEO_EXTENSIONS)}): {missing[:5]}")
    return examples


__all__ = ["read_caption_json", "read_segments_csv", "frame_labels", "segments_from_labels", "find_clip",
           "read_annotated_videos", "VIDEO_EXTENSIONS", "BACKGROUND"]
