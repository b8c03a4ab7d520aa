"""tools/train_speech_head.py: the head of a frozen-encoder speech task trained on cached
encoder outputs, written back into the task (a tiny random Whisper encoder stands in)."""

import json
import os

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from tests.scripts import load_script
from tests.test_speech_whisper import _tone, _whisper_task


def _script():
    return load_script(os.path.join("tools", "train_speech_head.py"))


def _corpus(root, texts):
    os.makedirs(root / "train" / "wavs")
    lines = []
    for i, text in enumerate(texts):
        # <= 0.5 s (padded to 0.5 s): the tiny encoder has 40 positions of 20 ms
        soundfile.write(root / "train" / "wavs" / f"u{i}.wav", _tone(0.2 + 0.05 * i, seed=i), 16000)
        lines.append(f"u{i}|{text}|{text}")
    (root / "train" / "metadata.csv").write_text("\n".join(lines) + "\n")
    return str(root)


@pytest.fixture
def frozen_task_dir(tmp_path):
    from tests.test_speech_whisper import HEADS, LAYERS, POSITIONS, WIDTH

    task = _whisper_task(tmp_path, options={
        "encoder": {"width": WIDTH, "num_layers": LAYERS, "num_heads": HEADS,
                    "max_positions": POSITIONS},
        "units": 8, "num_layers": 1, "trainable_blocks": 0})
    return task, task.save(str(tmp_path / "start"))


def test_head_training_moves_the_head_only_resumes_and_saves_a_whole_task(tmp_path,
                                                                          frozen_task_dir):
    from tasks.core.task import Task

    start, start_dir = frozen_task_dir
    data = _corpus(tmp_path / "corpus", ["ab", "ba", "a b", "bab", "aa"])
    script = _script()
    args = ["--model", start_dir, "--data-dir", data, "--work-dir", str(tmp_path / "work"),
            "--output", str(tmp_path / "out"), "--rows", "4", "--batch-size", "2",
            "--learning-rate", "0.05"]
    script.main(args + ["--epochs", "1"])
    parts = sorted(os.listdir(tmp_path / "work" / "features"))
    assert parts == ["part-0000.npz"]
    with np.load(tmp_path / "work" / "features" / parts[0]) as cached:
        assert len(cached["ids"]) == 4  # --rows picks 4 of the 5
        # the cache holds exactly what the task's encoder computes for the clean audio
        i = 0
        audio = soundfile.read(os.path.join(data, "train", "wavs", f"{cached['ids'][i]}.wav"),
                               dtype="float32")[0]
        encode, _ = script.encoder_and_head(start)
        features, frames = start.preprocessor(tf.constant(audio[None]), tf.constant([len(audio)]))
        encoded, encoded_frames = encode({"features": features, "frames": frames})
        assert cached["lengths"][i] == int(encoded_frames[0])
        np.testing.assert_allclose(cached["frames"][:cached["lengths"][i]],
                                   encoded[0, :int(encoded_frames[0])].numpy(), atol=1e-2)

    once = Task.load(str(tmp_path / "out"))
    encoder_before = start.model.get_layer("whisper_encoder").get_weights()
    for before, after in zip(encoder_before, once.model.get_layer("whisper_encoder").get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.array_equal(start.model.get_layer("logits").get_weights()[0],
                              once.model.get_layer("logits").get_weights()[0])

    # a second run with more epochs resumes after the first (reusing the cache)
    script.main(args + ["--epochs", "2"])
    with open(tmp_path / "work" / "progress.json") as f:
        progress = json.load(f)
    assert progress["epochs_done"] == 2 and len(progress["losses"]) == 2
    twice = Task.load(str(tmp_path / "out"))
    assert not np.array_equal(once.model.get_layer("logits").get_weights()[0],
                              twice.model.get_layer("logits").get_weights()[0])
    audio = _tone(0.5)[None]
    assert isinstance(twice.transcribe(audio, [audio.shape[1]])[0], str)


def test_head_training_refuses_a_trainable_encoder_and_other_architectures(tmp_path):
    script = _script()
    trainable = _whisper_task(tmp_path)  # trainable_blocks=1
    with pytest.raises(ValueError, match="trainable blocks"):
        script.encoder_and_head(trainable)
    from tasks.speech.task import SpeechTask

    with pytest.raises(ValueError, match="whisper_bigru"):
        script.encoder_and_head(SpeechTask({"options": {"units": 8, "num_layers": 1}}))



@pytest.mark.parametrize("argv, message", [
    (["--model", "x", "--rows", "0"], "--rows: expected a positive count"),
    (["--model", "x", "--units", "64"], "size a new task: give --preset"),
    (["--preset", "whisper_tiny_bigru"], "give --encoder-weights"),
    (["--preset", "whisper_tiny_bigru", "--encoder-weights", "w", "--num-layers", "0"],
     "must be positive"),
    (["--preset", "bigru", "--encoder-weights", "w"], "--preset: expected one of whisper_tiny_bigru"),
    (["--model", "x", "--preset", "whisper_tiny_bigru"], "not allowed with"),
])
def test_head_training_refuses_bad_arguments(tmp_path, capsys, argv, message):
    common = ["--data-dir", str(tmp_path), "--work-dir", str(tmp_path / "w"),
              "--output", str(tmp_path / "o")]
    with pytest.raises(SystemExit):
        _script().main(argv + common)
    assert message in capsys.readouterr().err


def test_a_shared_cache_must_hold_the_same_rows(tmp_path, frozen_task_dir):
    task, _ = frozen_task_dir
    script = _script()
    encode, _ = script.encoder_and_head(task)
    data = _corpus(tmp_path / "corpus", ["ab", "ba", "a b"])
    rows = script.read_rows(data, "train", None, seed=0)
    script.cache_features(task, encode, rows, str(tmp_path / "cache"))
    script.cache_features(task, encode, rows, str(tmp_path / "cache"))  # reused as it is
    with pytest.raises(ValueError, match="other rows"):
        script.cache_features(task, encode, script.read_rows(data, "train", None, seed=1),
                              str(tmp_path / "cache"))
