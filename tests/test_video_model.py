"""The video model and task on tiny networks: masks, the cached decoding step, overfitting a
few clips, save/load, export, metrics."""

import numpy as np
import pytest
import tensorflow as tf

from tasks.core import metrics
from tasks.core.task import Task
from tasks.video.data import decode_clip, make_dataset
from tasks.video.model import build_video_model
from tasks.video.readers import frame_labels, segments_from_labels
from tasks.video.task import ExportedVideoAnnotator, VideoTask


def inputs(batch=2, frames=12, seed=0):
    rng = np.random.default_rng(seed)
    return {"frames": tf.constant(rng.random([batch, frames, 64, 64, 3]), tf.float32),
            "lengths": tf.constant([frames, frames - 5][:batch], tf.int32),
            "tokens": tf.constant(rng.integers(4, 30, [batch, 9]), tf.int32)}


@pytest.mark.parametrize("temporal", ["bigru", "transformer"])
def test_padding_frames_change_no_output(temporal):
    model = build_video_model(6, 30, frame_widths=(8, 16), temporal=temporal,
                              temporal_options={"hidden_dim": 32, "num_layers": 1})
    x = inputs()
    out = model(x)
    assert out["labels"].shape == (2, 12, 6) and out["caption"].shape == (2, 9, 30)
    noise = tf.random.uniform([2, 6, 64, 64, 3])
    padded = model({**x, "frames": tf.concat([x["frames"], noise], 1)})
    np.testing.assert_allclose(padded["labels"][0, :12], out["labels"][0], atol=1e-5)
    np.testing.assert_allclose(padded["labels"][1, :7], out["labels"][1, :7], atol=1e-5)
    np.testing.assert_allclose(padded["caption"], out["caption"], atol=1e-5)
    # and the second clip's own padding (frames 7..11) is already ignored
    changed = x["frames"].numpy()
    changed[1, 7:] = 0.5
    np.testing.assert_allclose(model({**x, "frames": tf.constant(changed)})["caption"],
                               out["caption"], atol=1e-5)


def test_cached_step_equals_the_forward_pass():
    model = build_video_model(6, 30, frame_widths=(8, 16), temporal_options={"hidden_dim": 32})
    x = inputs()
    full = model(x)["caption"].numpy()
    features = model.get_layer("frame_encoder")(x["frames"])
    mask = tf.sequence_mask(x["lengths"], 12)
    encoded = model.get_layer("temporal")(features, mask)
    decoder = model.get_layer("caption_decoder")
    state, context = decoder.decoding_state(encoded, mask)
    for t in range(9):
        logits, state = decoder.step(x["tokens"][:, t], state, t, context)
        np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)


@pytest.fixture
def overfit_task(overfit_video_task):
    return overfit_video_task


def test_a_tiny_model_learns_a_few_clips(overfit_task):
    task, clips = overfit_task
    scores = task.evaluate(make_dataset(clips, task.preprocessor, batch_size=4), beam_width=1)
    assert scores["frame_accuracy"] >= 95.0, scores
    assert scores["bleu4"] >= 80.0, scores


def test_annotate_gives_frames_segments_and_a_caption(overfit_task):
    task, clips = overfit_task
    frames, ids, times = decode_clip(clips[0], task.config["labels"], 8, 64, 64)
    result = task.annotate([frames])[0]
    assert [f["time"] for f in result["frames"]] == pytest.approx(list(times))
    assert all(0 <= f["score"] <= 1 for f in result["frames"])
    labels = [f["label"] for f in result["frames"]]
    truth = frame_labels(clips[0]["segments"], times)
    assert np.mean(np.array(labels) == np.array(truth)) >= 0.9
    assert [(s["start"], s["end"], s["label"]) for s in result["segments"]] == [
        (round(a, 4), round(b, 4), x) for a, b, x in segments_from_labels(labels, times,
                                                                           frame_duration=0.125)]
    # beam 1 is greedy; a shorter copy of the clip in the same batch does not change the first
    both = task.annotate([frames, frames[:9]], beam_width=1)
    assert both[0] == task.annotate([frames], beam_width=1)[0]
    assert len(both[1]["frames"]) == 9


def test_save_load_and_export_give_the_same_annotations(overfit_task, tmp_path):
    task, clips = overfit_task
    frames = np.stack([decode_clip(c, task.config["labels"], 8, 64, 64)[0] for c in clips[:2]])
    expected = task.annotate(list(frames))
    loaded = Task.load(task.save(str(tmp_path / "task")))
    assert loaded.annotate(list(frames)) == expected
    exported = ExportedVideoAnnotator(task.export(str(tmp_path / "export")))
    out = exported.annotate_batch(frames, [32, 20])
    live = task.annotate_frames(tf.constant(frames), tf.constant([32, 20]))
    assert [c.decode() for c in out["captions"]] == [c.decode() for c in live["captions"].numpy()]
    np.testing.assert_array_equal(out["label_ids"], live["label_ids"].numpy())
    assert (out["label_ids"][1, 20:] == -1).all() and (out["labels"][1, 20:] == b"").all()
    with pytest.raises(ValueError, match="beam_width"):
        exported.annotate_batch(frames, [32, 32], beam_width=2)


@pytest.mark.parametrize("kwargs, message", [
    ({"beam_width": 0}, "beam_width must be"), ({"max_length": 0}, "max_length must be"),
    ({"max_length": 99}, "max_length must be"),
])
def test_bad_decoding_options(overfit_task, kwargs, message):
    task, _ = overfit_task
    with pytest.raises(ValueError, match=message):
        task.annotate([np.zeros([4, 64, 64, 3], np.uint8)], **kwargs)


def test_from_examples_needs_labels_and_captions():
    with pytest.raises(ValueError, match="labels"):
        VideoTask({"labels": ["none"], "vocabulary": ["a"]})


def test_segments_round_trip_and_segment_f1():
    times = np.arange(10) * 0.5
    segments = [(0.5, 2.0, "jump"), (3.0, 4.0, "turn")]
    labels = frame_labels(segments, times)
    assert segments_from_labels(labels, times) == segments
    assert metrics.segment_f1([segments], [segments]) == 1.0
    # IoU 0.5 exactly is a hit; a wrong label or a short overlap is not
    assert metrics.segment_f1([[(0, 2, "a")]], [[(1, 2, "a")]]) == 1.0
    assert metrics.segment_f1([[(0, 2, "a")]], [[(0, 2, "b")]]) == 0.0
    assert metrics.segment_f1([[(0, 4, "a")]], [[(0, 1, "a")]]) == 0.0
    # one of two true segments found, one false alarm: P = 1/2, R = 1/2
    assert metrics.segment_f1([[(0, 1, "a"), (2, 3, "b")]], [[(0, 1, "a"), (5, 6, "c")]]) == 0.5
    assert metrics.segment_f1([[]], [[]]) == 1.0
