"""pipelines.annotate_video on the tiny trained annotator: input kinds, windows, the export,
the CLI verbs, and one test per kind of bad input."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import pipelines
from concurrency import in_threads_then_in_turn
from pipelines.cli import main
from tasks.video.io import read_video, write_video
from tasks.video.readers import frame_labels

HERE = os.path.dirname(os.path.abspath(__file__))

@pytest.fixture
def annotator(overfit_video_task):
    return overfit_video_task[0]


def test_path_bytes_array_and_list_agree(overfit_video_task):
    task, clips = overfit_video_task
    path = clips[0]["path"]
    result = pipelines.annotate_video(path, model=task)
    assert set(result) == {"caption", "frames", "segments", "windows"}
    assert len(result["frames"]) == 32 and len(result["windows"]) == 1
    with open(path, "rb") as f:
        assert pipelines.annotate_video(f.read(), model=task) == result
    frames, times = read_video(path)
    assert pipelines.annotate_video(frames, model=task) == result
    both = pipelines.annotate_video([path, frames[:10]], model=task)
    assert both[0] == result and len(both[1]["frames"]) == 10
    # it knows the clips it was trained on
    truth = frame_labels(clips[0]["segments"], times)
    hits = np.mean([f["label"] == t for f, t in zip(result["frames"], truth)])
    assert hits >= 0.9, (result["frames"], truth)


def test_long_video_is_annotated_in_windows(overfit_video_task, tmp_path):
    task, clips = overfit_video_task
    frames = np.concatenate([read_video(c["path"])[0] for c in clips[:3]])  # 96 frames
    path = write_video(str(tmp_path / "long.mp4"), frames, 8)
    result = pipelines.annotate_video(path, model=task)
    assert [(w["start"], w["end"]) for w in result["windows"]] == [(0.0, 8.0), (8.0, 12.0)]
    assert result["caption"] == ", then ".join(w["caption"] for w in result["windows"])
    assert len(result["frames"]) == 96 and result["frames"][-1]["time"] == pytest.approx(95 / 8)
    limited = pipelines.annotate_video(path, model=task, max_frames=20)
    assert len(limited["frames"]) == 20
    # annotating at 4 fps keeps every other frame
    assert len(pipelines.annotate_video(path, model=task, fps=4)["frames"]) == 48


def test_exported_annotator_serves_in_stock_tensorflow(overfit_video_task, tmp_path, stock_tf):
    task, clips = overfit_video_task
    export = task.export(str(tmp_path / "export"))
    frames = np.stack([read_video(c["path"])[0] for c in clips[:2]])
    frames[1, 20:] = 0  # the second clip is 20 frames long
    np.save(tmp_path / "frames.npy", frames)
    out = stock_tf.serve("--video", export, tmp_path / "frames.npy", 32, 20)
    assert out["modules"] == []
    assert out["inputs"] == {"frames": ["uint8", [None, None, None, None, 3]], "lengths": ["int32", [None]]}
    assert out["metadata"] == {"frame_size": 32, "fps": 8.0, "window": 64}
    live = task.annotate_frames(tf.constant(frames), tf.constant([32, 20]))
    assert out["captions"] == [c.decode() for c in live["captions"].numpy()]
    assert out["labels"] == [[x.decode() for x in row] for row in live["labels"].numpy()]
    assert out["one"] == out["captions"][:1]  # a second batch size


def test_exported_annotator_in_the_pipeline(overfit_video_task, tmp_path):
    task, clips = overfit_video_task
    export = task.export(str(tmp_path / "export"))
    # frames decoded at 64 px reach both graphs; the export resizes to its own size inside
    frames = read_video(clips[1]["path"])[0]
    assert pipelines.annotate_video(frames, model=export) == pipelines.annotate_video(frames, model=task)
    with pytest.raises(ValueError, match="fixed inside an exported SavedModel"):
        pipelines.annotate_video(frames, model=export, beam_width=2)


@pytest.mark.parametrize("make, error, message", [
    (lambda p: str(p / "missing.mp4"), ValueError, "does not exist"),
    (lambda p: (p / "empty.mp4").write_bytes(b"") or str(p / "empty.mp4"), ValueError, "empty"),
    (lambda p: b"", ValueError, "empty"),
    (lambda p: b"\x00\x01 not a video at all" * 20, ValueError, "not a readable video"),
    (lambda p: np.zeros([0, 32, 32, 3], np.uint8), ValueError, "no frames"),
    (lambda p: np.zeros([4, 32, 32, 3], np.float32), TypeError, "expected uint8 frames"),
    (lambda p: np.zeros([4, 32, 32], np.uint8), ValueError, "expected uint8 frames"),
    (lambda p: 3.5, TypeError, "expected a path, bytes, a uint8 array"),
    (lambda p: [], ValueError, "empty list"),
    (lambda p: str(p), ValueError, "is a directory"),
])
def test_bad_video_inputs(annotator, tmp_path, make, error, message):
    with pytest.raises(error, match=message):
        pipelines.annotate_video(make(tmp_path), model=annotator)


def test_truncated_video_is_a_value_error(annotator, tmp_path, overfit_video_task):
    data = open(overfit_video_task[1][0]["path"], "rb").read()
    with pytest.raises(ValueError, match="video"):
        pipelines.annotate_video(data[: len(data) // 3], model=annotator)


@pytest.mark.parametrize("kwargs, message", [
    ({"fps": 0}, "fps must be"), ({"fps": "8"}, "fps must be"), ({"max_frames": 0}, "max_frames"),
    ({"beam_width": 0}, "beam_width"),
])
def test_bad_options(annotator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipelines.annotate_video(np.zeros([4, 32, 32, 3], np.uint8), model=annotator, **kwargs)


def test_annotate_video_verb_json_and_render(overfit_video_task, tmp_path, capsys):
    task, clips = overfit_video_task
    saved = task.save(str(tmp_path / "task"))
    out = str(tmp_path / "annotated.mp4")
    assert main(["annotate-video", clips[0]["path"], "--model", saved, "--json", "--render", out]) in (0, None)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["input"] == clips[0]["path"] and line["rendered"] == out
    assert line["caption"] == pipelines.annotate_video(clips[0]["path"], model=task)["caption"]
    rendered, _ = read_video(out)
    assert rendered.shape == (32, 320, 320, 3)
    assert main(["annotate-video", clips[0]["path"], "--model", saved]) in (0, None)
    assert capsys.readouterr().out.startswith(clips[0]["path"] + ": ")


def test_video_train_evaluate_export_verbs(tmp_path, capsys, video_events):
    root = os.path.dirname(os.path.dirname(os.path.dirname(video_events[0][0]["path"])))
    output = str(tmp_path / "run")
    assert main(["train", "video", "--data", root, "--output", output, "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "2", "--limit", "4"]) in (0, None)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"saved": output}
    assert main(["evaluate", "video", "--data", root, "--model", output, "--beam", "1"]) in (0, None)
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scores["clips"] == 3 and 0 <= scores["frame_accuracy"] <= 100
    assert main(["export", "video", "--model", output, "--output", str(tmp_path / "e")]) in (0, None)
    assert os.path.isfile(tmp_path / "e" / "saved_model.pb")


def test_a_long_video_is_annotated_in_bounded_memory(overfit_video_task, tmp_path):
    """Five times the length costs (almost) no more memory: one window is held at a time."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
    from video import long_video_child, write_long_video

    task, clips = overfit_video_task
    saved = task.save(str(tmp_path / "task"))
    peaks = {}
    for seconds in (40, 200):
        # 256x256 frames: a pipeline that held the decoded video would need 252 MB more
        path = write_long_video(str(tmp_path / f"long{seconds}.mp4"), clips, seconds, size=256)
        result = long_video_child(path, saved)
        assert result["frames"] == seconds * 8 and result["windows"] == -(-seconds * 8 // 64)
        peaks[seconds] = result["peak_rss_mb"]
    assert peaks[200] - peaks[40] < 150, peaks  # MB


def test_eight_threads_give_the_sequential_results_and_load_once(overfit_video_task, tmp_path,
                                                                 monkeypatch):
    task, clips = overfit_video_task
    saved = task.save(str(tmp_path / "task"))
    frames = [read_video(c["path"])[0] for c in clips]
    # four files and four arrays of different lengths
    videos = [c["path"] for c in clips] + [f[: 8 + 6 * i] for i, f in enumerate(frames)]
    threaded, sequential, loads = in_threads_then_in_turn(
        monkeypatch, lambda v: pipelines.annotate_video(v, model=saved, beam_width=2), videos)
    assert threaded == sequential and loads == 1
