"""Video data: PyAV reading and writing, the annotation readers in MSR-VTT / MSVD / segment
CSV layouts, and the built-in emoji-events benchmark (determinism, no leakage)."""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tasks.captioning.glyphs import load_atlas
from tasks.video import benchmark
from tasks.video.io import iter_frames, probe, read_video, write_video
from tasks.video.readers import (frame_labels, read_annotated_videos, read_caption_json,
                                 read_segments_csv)


def moving_bar(frames=24, height=48, width=64):
    """A white bar that moves right by 2 px a frame: a frame's index can be read back."""
    video = np.zeros([frames, height, width, 3], np.uint8)
    for i in range(frames):
        video[i, :, 2 * i: 2 * i + 8] = 255
    return video


def bar_position(frame):
    return int(np.argmax(frame.mean(axis=(0, 2)) > 128))


@pytest.mark.parametrize("extension", [".mp4", ".webm", ".mkv", ".avi"])
def test_write_then_read_every_container(tmp_path, extension):
    video = moving_bar()
    path = write_video(str(tmp_path / f"clip{extension}"), video, fps=12)
    info = probe(path)
    assert (info["width"], info["height"], info["fps"]) == (64, 48, 12.0)
    assert info["frames"] == 24
    frames, times = read_video(path)
    assert frames.shape == video.shape and frames.dtype == np.uint8
    np.testing.assert_allclose(times, np.arange(24) / 12, atol=1e-3)
    assert np.abs(frames.astype(int) - video).mean() < 4  # lossy codecs, small error
    assert [bar_position(f) for f in frames] == [2 * i for i in range(24)]


def test_target_frame_rate_size_and_max_frames(tmp_path):
    path = write_video(str(tmp_path / "clip.mp4"), moving_bar(), fps=12)
    frames, times = read_video(path, fps=4, size=(24, 32))
    assert frames.shape == (8, 24, 32, 3)
    np.testing.assert_allclose(times, np.arange(8) / 4, atol=1e-3)
    assert [bar_position(f) for f in frames] == [3 * i for i in range(8)]  # every 3rd frame, halved
    frames, _ = read_video(path, max_frames=5, size=16)
    assert frames.shape == (5, 16, 16, 3)
    # A higher rate than the file's never invents frames.
    assert read_video(path, fps=30)[0].shape[0] == 24
    # Bytes and file objects read like paths.
    with open(path, "rb") as f:
        data = f.read()
    assert read_video(data)[0].shape[0] == 24
    with open(path, "rb") as f:
        assert read_video(f, max_frames=2)[0].shape[0] == 2


def test_reading_streams_one_frame_at_a_time(tmp_path):
    path = write_video(str(tmp_path / "long.mp4"), (np.full([32, 32, 3], i, np.uint8)
                                                    for i in range(0, 250, 2)), fps=25)
    stream = iter_frames(path, fps=5)
    first_time, first = next(stream)  # decoding has started; nothing else is held
    assert first_time == 0 and first.shape == (32, 32, 3)
    assert len(list(stream)) == 24  # 125 frames at 25 fps kept at 5 fps: 25, one taken above


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p / "missing.mp4"), "is not a file"),
    (lambda p: (p / "empty.mp4").write_bytes(b"") or str(p / "empty.mp4"), "empty"),
    (lambda p: b"", "empty"),
    (lambda p: b"this is plain text, not a video" * 10, "not a readable video"),
    (lambda p: open(write_video(str(p / "c.mp4"), moving_bar(), 12), "rb").read()[:200],
     "not a readable video"),
])
def test_bad_video_inputs_are_value_errors(tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        read_video(make(tmp_path))


def test_a_picture_is_not_a_video(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros([8, 8, 3], np.uint8)).save(tmp_path / "x.png")
    # FFmpeg opens a PNG as a one-frame "video": that is accepted, and has one frame.
    assert read_video(str(tmp_path / "x.png"))[0].shape == (1, 8, 8, 3)
    with pytest.raises(TypeError, match="video must be a path"):
        read_video(12)


@pytest.mark.parametrize("kwargs, message", [
    ({"fps": 0}, "fps must be"), ({"fps": "8"}, "fps must be"),
    ({"max_frames": 0}, "max_frames must be"), ({"size": (0, 4)}, "size must be"),
    ({"size": (4, 4, 4)}, "size must be"),
])
def test_bad_read_options(tmp_path, kwargs, message):
    path = write_video(str(tmp_path / "c.mp4"), moving_bar(4), 12)
    with pytest.raises(ValueError, match=message):
        read_video(path, **kwargs)


@pytest.mark.parametrize("frames, message", [
    (np.zeros([2, 8, 8], np.uint8), "uint8 \\[T, H, W, 3\\]"),
    (np.zeros([2, 8, 8, 3], np.float32), "uint8 \\[T, H, W, 3\\]"),
    (np.zeros([2, 7, 8, 3], np.uint8), "even height and width"),
    (np.zeros([0, 8, 8, 3], np.uint8), "frames is empty"),
])
def test_bad_frames_to_write(tmp_path, frames, message):
    with pytest.raises(ValueError, match=message):
        write_video(str(tmp_path / "c.mp4"), frames, 8)
    with pytest.raises(ValueError, match="unknown video extension"):
        write_video(str(tmp_path / "c.gif"), moving_bar(2), 8)


# -- readers, in the layouts of the real data sets --------------------------------------

MSRVTT = {"info": {"year": 2016},
          "videos": [{"category": 9, "url": "https://example.org/a", "video_id": "video0",
                      "start time": 137.72, "end time": 149.44, "split": "train", "id": 0},
                     {"category": 3, "url": "https://example.org/b", "video_id": "video1",
                      "start time": 1.0, "end time": 9.5, "split": "validate", "id": 1}],
          "sentences": [{"caption": "a man is driving a car", "video_id": "video0", "sen_id": 0},
                        {"caption": "someone drives", "video_id": "video0", "sen_id": 1},
                        {"caption": "a cat plays", "video_id": "video1", "sen_id": 2}]}


def test_msrvtt_msvd_and_segment_files(tmp_path):
    (tmp_path / "msrvtt.json").write_text(json.dumps(MSRVTT))
    assert read_caption_json(str(tmp_path / "msrvtt.json")) == {
        "video0": ["a man is driving a car", "someone drives"], "video1": ["a cat plays"]}
    assert read_caption_json(str(tmp_path / "msrvtt.json"), split="validate") == {
        "video1": ["a cat plays"]}
    (tmp_path / "msvd.json").write_text(json.dumps({"-4wsuPCjDBc_5_15": ["a man plays"]}))
    assert read_caption_json(str(tmp_path / "msvd.json")) == {"-4wsuPCjDBc_5_15": ["a man plays"]}
    (tmp_path / "segments.csv").write_text(
        "clip,start,end,label\nvideo0,2.5,4,jump\nvideo0,0,1.5,enter\nvideo1,0,3,run\n")
    segments = read_segments_csv(str(tmp_path / "segments.csv"))
    assert segments["video0"] == [(0.0, 1.5, "enter"), (2.5, 4.0, "jump")]
    assert frame_labels(segments["video0"], [0, 1.0, 1.5, 2.0, 2.5, 3.99, 4.0]) == [
        "enter", "enter", "none", "none", "jump", "jump", "none"]
    for name in ("video0", "video1"):
        write_video(str(tmp_path / f"{name}.mp4"), moving_bar(4), 8)
    examples = read_annotated_videos(str(tmp_path), captions=str(tmp_path / "msrvtt.json"),
                                     segments=str(tmp_path / "segments.csv"))
    assert [e["id"] for e in examples] == ["video0", "video1"]
    assert examples[1]["segments"] == [(0.0, 3.0, "run")]
    assert examples[0]["path"].endswith("video0.mp4")


def test_reader_errors_name_the_problem(tmp_path):
    (tmp_path / "bad.csv").write_text("clip,begin,end,label\nv,0,1,x\n")
    with pytest.raises(ValueError, match="lacks the column"):
        read_segments_csv(str(tmp_path / "bad.csv"))
    (tmp_path / "order.csv").write_text("clip,start,end,label\nv,3,1,x\n")
    with pytest.raises(ValueError, match="line 2: need 0 <= start < end"):
        read_segments_csv(str(tmp_path / "order.csv"))
    (tmp_path / "odd.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="neither MSR-VTT"):
        read_caption_json(str(tmp_path / "odd.json"))
    (tmp_path / "msrvtt.json").write_text(json.dumps(MSRVTT))
    with pytest.raises(ValueError, match="2 annotated clip\\(s\\) have no file"):
        read_annotated_videos(str(tmp_path), captions=str(tmp_path / "msrvtt.json"))


# -- the built-in benchmark ---------------------------------------------------------------

SIZES = {"train": 40, "val": 4, "test": 12}


@pytest.fixture(scope="module")
def events_root(tmp_path_factory):
    return benchmark.build_benchmark(str(tmp_path_factory.mktemp("events")), sizes=SIZES,
                                     progress=False)


def test_benchmark_layout_labels_and_captions(events_root):
    manifest = json.load(open(os.path.join(events_root, "manifest.json")))
    assert manifest["counts"] == SIZES and manifest["labels"][0] == "none"
    for split, n in SIZES.items():
        examples = benchmark.read_benchmark(events_root, split)
        assert len(examples) == n
    example = benchmark.read_benchmark(events_root, "test")[0]
    frames, times = read_video(example["path"])
    assert frames.shape == (benchmark.CLIP_FRAMES, 64, 64, 3)
    np.testing.assert_allclose(times, np.arange(benchmark.CLIP_FRAMES) / benchmark.FPS, atol=1e-3)
    labels = frame_labels(example["segments"], times)
    assert set(labels) <= set(benchmark.LABELS) and len(set(labels)) >= 3
    # Captions name the events in the order the segments give them.
    verbs = {"enter": "enters", "leave": "leaves", "move": "moves", "jump": "jumps",
             "grow": "grows", "turn": "turns", "collide": "collide"}
    for example in benchmark.read_benchmark(events_root, "train")[:10]:
        words = example["captions"][0].replace(",", "").split()
        said = [w for w in words if w in verbs.values()]
        assert said == [verbs[label] for _, _, label in example["segments"]], example


def _shown(split_root, split):
    data = json.load(open(os.path.join(split_root, "annotations", f"captions_{split}.json")))
    atlas_words = load_atlas().words
    result = []
    for video in data["videos"]:
        events = video["script"]["events"]
        pairs = {(atlas_words.index(o), e["event"]) for e in events for o in e["objects"]}
        orders = {(a["event"], b["event"]) for a, b in zip(events, events[1:])}
        result.append((pairs, orders))
    return result


def test_test_split_holds_only_unseen_combinations(events_root):
    held_pairs = benchmark.held_out_pairs(len(load_atlas().words))
    for split in ("train", "val"):
        for pairs, orders in _shown(events_root, split):
            assert not pairs & held_pairs and not orders & benchmark.HELD_OUT_ORDERS
    for pairs, orders in _shown(events_root, "test"):
        assert pairs & held_pairs or orders & benchmark.HELD_OUT_ORDERS


def test_benchmark_is_a_function_of_the_seed_and_a_complete_build_is_reused(events_root, tmp_path):
    atlas = load_atlas()
    a = benchmark.make_clip(np.random.default_rng([0, 1]), atlas, "train")
    b = benchmark.make_clip(np.random.default_rng([0, 1]), atlas, "train")
    c = benchmark.make_clip(np.random.default_rng([1, 1]), atlas, "train")
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    assert not np.array_equal(a[0], c[0])
    stamp = os.path.getmtime(os.path.join(events_root, "manifest.json"))
    benchmark.build_benchmark(events_root, sizes=SIZES, progress=False)
    assert os.path.getmtime(os.path.join(events_root, "manifest.json")) == stamp
    with pytest.raises(ValueError, match="unknown split"):
        benchmark.build_benchmark(str(tmp_path), sizes={"dev": 1})
    with pytest.raises(ValueError, match="frame_size must be"):
        benchmark.build_benchmark(str(tmp_path), sizes={"test": 1}, frame_size=15)


def test_every_event_and_label_occurs(events_root):
    counts = collections.Counter(label for split in ("train", "test")
                                 for e in benchmark.read_benchmark(events_root, split)
                                 for _, _, label in e["segments"])
    assert set(counts) == set(benchmark.EVENTS), counts


def test_build_data_video_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipelines", "build-data", "video", "--output",
                          str(tmp_path / "v"), "--sizes", "2,1,1"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"root": str(tmp_path / "v")}
    assert len(os.listdir(tmp_path / "v" / "videos" / "train")) == 2
