"""tools/train_speech_head.py: the head of a frozen-encoder speech task trained on cached
encoder outputs, written back into the task (a tiny random Whisper encoder stands in)."""

import json
import os

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from tests.scripts import load_script
from tests.test_speech_whisper import _tiny_encoder, _tone, _whisper_task


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
def frozen_task(tmp_path):
    return _whisper_task(tmp_path, options={
        "encoder": _tiny_encoder(),
        "units": 8, "num_layers": 1, "trainable_blocks": 0})


def _inputs(task, seconds=0.5):
    audio = _tone(seconds)[None]
    features, frames = task.preprocessor(tf.constant(audio), tf.constant([audio.shape[1]]))
    return {"features": features, "frames": frames}


def test_a_frozen_encoder_is_cached_whole_and_the_head_is_what_follows(frozen_task):
    encode, head = _script().encoder_and_head(frozen_task)
    inputs = _inputs(frozen_task)
    np.testing.assert_allclose(head(list(encode(inputs))).numpy(),
                               frozen_task.model(inputs).numpy(), atol=1e-5)
    assert not any(w.path.startswith(("block_", "final_norm", "conv"))
                   for w in head.trainable_weights)
    assert any(w.path.startswith("logits") for w in head.trainable_weights)


def test_head_training_moves_the_top_only_resumes_and_saves_a_whole_task(tmp_path):
    """trainable_blocks=1 of 2: the cache is block 0's output, the head runs block 1, the
    final norm and the rest; together they are the task's network; training moves only them,
    continues after its last epoch when run again, and the saved task loads and transcribes."""
    from tasks.core.task import Task

    start = _whisper_task(tmp_path)
    script = _script()
    encode, head = script.encoder_and_head(start)
    inputs = _inputs(start)
    np.testing.assert_allclose(head(list(encode(inputs))).numpy(), start.model(inputs).numpy(),
                               atol=1e-5)
    trained = {w.path for w in head.trainable_weights}
    assert any(p.startswith("block_1/") for p in trained) and any("final_norm" in p for p in trained)
    assert not any(p.startswith(("block_0/", "conv", "positions")) for p in trained)

    data = _corpus(tmp_path / "corpus", ["ab", "ba", "a b", "bab", "aa"])
    args = ["--model", start.save(str(tmp_path / "start")), "--data-dir", data,
            "--work-dir", str(tmp_path / "work"), "--output", str(tmp_path / "out"),
            "--rows", "4", "--batch-size", "2", "--learning-rate", "0.05"]
    script.main(args + ["--epochs", "1"])
    parts = sorted(os.listdir(tmp_path / "work" / "features"))
    assert parts == ["part-0000.npz"]
    with np.load(tmp_path / "work" / "features" / parts[0]) as cached:
        assert len(cached["ids"]) == 4  # --rows picks 4 of the 5
        # the cache holds what the frozen part computes for the clean audio (as float16)
        audio = soundfile.read(os.path.join(data, "train", "wavs", f"{cached['ids'][0]}.wav"),
                               dtype="float32")[0]
        features, frames = start.preprocessor(tf.constant(audio[None]), tf.constant([len(audio)]))
        encoded, encoded_frames = encode({"features": features, "frames": frames})
        assert cached["lengths"][0] == int(encoded_frames[0])
        np.testing.assert_allclose(cached["frames"][:cached["lengths"][0]],
                                   encoded[0, :int(encoded_frames[0])].numpy(), atol=1e-2)

    once = Task.load(str(tmp_path / "out"))
    for name, moved in (("block_0", False), ("conv1", False), ("block_1", True)):
        same = [np.array_equal(a, b) for a, b in zip(
            start.model.get_layer("whisper_encoder").get_layer(name).get_weights(),
            once.model.get_layer("whisper_encoder").get_layer(name).get_weights())]
        assert (not all(same)) == moved, name
    assert not np.array_equal(start.model.get_layer("logits").get_weights()[0],
                              once.model.get_layer("logits").get_weights()[0])

    with pytest.raises(SystemExit):  # the cache holds block 0's output: not for 2 blocks
        script.main(args + ["--epochs", "2", "--trainable-blocks", "2"])
    script.main(args + ["--epochs", "2"])  # continues after epoch 1, on the same cache
    with open(tmp_path / "work" / "progress.json") as f:
        progress = json.load(f)
    assert progress["epochs_done"] == 2 and len(progress["losses"]) == 2
    twice = Task.load(str(tmp_path / "out"))
    assert not np.array_equal(once.model.get_layer("logits").get_weights()[0],
                              twice.model.get_layer("logits").get_weights()[0])
    assert isinstance(twice.transcribe(_tone(0.5)[None], [8000])[0], str)


def test_augmented_copies_are_cached_beside_the_clean_rows_and_trained_on(frozen_task, tmp_path,
                                                                          capsys):
    """--augmented-copies 1: each part gets a second file, the same rows and texts encoded
    after the recipe's augmentation (drawn from the seed: the same audio again), and training
    reads both; a copy of another seed is refused."""
    from tasks.speech.data import load_audio

    script = _script()
    data = _corpus(tmp_path / "corpus", ["ab", "ba", "a b", "bab", "aa"])
    work = tmp_path / "work"
    script.main(["--model", frozen_task.save(str(tmp_path / "start")), "--data-dir", data,
                 "--work-dir", str(work), "--output", str(tmp_path / "out"), "--rows", "4",
                 "--batch-size", "2", "--epochs", "1", "--augmented-copies", "1"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"] == 8
    assert sorted(os.listdir(work / "features")) == ["part-0000-aug1.npz", "part-0000.npz"]
    with np.load(work / "features" / "part-0000.npz") as clean, \
            np.load(work / "features" / "part-0000-aug1.npz") as copy:
        assert list(copy["ids"]) == list(clean["ids"]) and list(copy["texts"]) == list(clean["texts"])
        assert int(copy["copy"]) == 1 and int(copy["seed"]) == 0 and int(clean["copy"]) == 0
        first = copy["frames"][:copy["lengths"][0]]
        n = min(len(first), clean["lengths"][0])
        assert not np.allclose(first[:n], clean["frames"][:n], atol=0.1)
        # what the frozen part computes for the first row's augmented audio
        audios = [load_audio(os.path.join(data, "train", "wavs", f"{i}.wav")) for i in copy["ids"]]
        audio = script.augmented_copy(audios, 0, 1, 0)[0]
        encode, _ = script.encoder_and_head(frozen_task)
        features, frames = frozen_task.preprocessor(tf.constant(audio[None]),
                                                    tf.constant([len(audio)]))
        encoded, encoded_frames = encode({"features": features, "frames": frames})
        assert copy["lengths"][0] == int(encoded_frames[0])
        np.testing.assert_allclose(first, encoded[0, :int(encoded_frames[0])].numpy(), atol=1e-2)
    examples = script.read_rows(data, "train", 4, 0)
    with pytest.raises(ValueError, match="augmented copy of seed 0, not 1"):
        script.cache_features(frozen_task, encode, examples, str(work / "features"), copy=1,
                              seed=1)


def test_a_stopped_run_resumed_ends_where_an_unbroken_run_does(tmp_path, monkeypatch):
    """Stopped after epoch 1 of 2 and run again, training continues with the saved head, the
    optimizer's step count and moments, and epoch 2's batch order: it ends with the weights an
    unbroken run reaches (dropout off, so both runs draw nothing else at random)."""
    from tasks.core.task import Task

    script = _script()
    start = _whisper_task(tmp_path, options={
        "encoder": _tiny_encoder(),
        "units": 8, "num_layers": 1, "trainable_blocks": 1, "dropout": 0.0})
    data = _corpus(tmp_path / "corpus", ["ab", "ba", "a b", "bab", "aa"])
    args = ["--model", start.save(str(tmp_path / "start")), "--data-dir", data,
            "--cache-dir", str(tmp_path / "features"), "--rows", "5", "--batch-size", "2",
            "--learning-rate", "0.05", "--epochs", "2"]

    def run(name):
        script.main(args + ["--work-dir", str(tmp_path / name), "--output", str(tmp_path / name / "out")])
        head = script.encoder_and_head(Task.load(str(tmp_path / name / "out")))[1]
        return [w.numpy() for w in head.trainable_weights]

    unbroken = run("unbroken")
    real_batches, calls = script.batches, []

    def stop_in_epoch_2(*a):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("stopped")
        return real_batches(*a)

    monkeypatch.setattr(script, "batches", stop_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        run("resumed")
    with np.load(tmp_path / "resumed" / "optimizer.npz") as saved:
        assert int(saved["arr_0"]) == 3  # the step count: 3 batches of 5 rows in epoch 1
    monkeypatch.setattr(script, "batches", real_batches)
    resumed = run("resumed")
    assert len(unbroken) == len(resumed) > 0
    for a, b in zip(unbroken, resumed):
        np.testing.assert_allclose(a, b, atol=1e-5)

    # moments made for another head are refused, not silently misapplied
    np.savez(tmp_path / "resumed" / "optimizer.npz", np.zeros(()), np.zeros((3, 3)))
    with pytest.raises(SystemExit):
        script.main(args + ["--epochs", "3", "--work-dir", str(tmp_path / "resumed"),
                            "--output", str(tmp_path / "resumed" / "out")])


def test_an_encoder_cut_short_shares_the_cache_of_a_longer_one_training_its_top(tmp_path):
    """1 of 2 blocks, all frozen, and 2 blocks with the top training: the cache is block 0's
    output for both (same name, same values); each head computes its own task's network."""
    from tests.test_speech_whisper import LAYERS

    def task(layers, trainable, pool):
        (tmp_path / f"{layers}{trainable}").mkdir()
        return _whisper_task(tmp_path / f"{layers}{trainable}", options={
            "encoder": _tiny_encoder(layers),
            "units": 8, "num_layers": 1, "trainable_blocks": trainable, "pool": pool})

    short, long = task(1, 0, 2), task(LAYERS, 1, 1)
    (encode_short, head_short), (encode_long, head_long) = map(_script().encoder_and_head,
                                                               (short, long))
    assert encode_short.name == encode_long.name == "encoded_by_block_0"
    inputs = _inputs(short)
    cached = encode_short(inputs)
    np.testing.assert_array_equal(cached[0].numpy(), encode_long(inputs)[0].numpy())
    for t, head in ((short, head_short), (long, head_long)):
        np.testing.assert_allclose(head(list(cached)).numpy(), t.model(inputs).numpy(), atol=1e-5)
    assert not any(w.path.startswith(("block_", "final_norm")) for w in head_short.trainable_weights)


def test_head_training_refuses_other_architectures():
    from tasks.speech.task import SpeechTask

    with pytest.raises(ValueError, match="whisper_bigru"):
        _script().encoder_and_head(SpeechTask({"options": {"units": 8, "num_layers": 1}}))


@pytest.mark.parametrize("argv, message", [
    (["--model", "x", "--rows", "0"], "--rows: expected a positive count"),
    (["--model", "x", "--units", "64"], "make a new task: give --preset"),
    (["--model", "x", "--pool", "2"], "make a new task: give --preset"),
    (["--preset", "whisper_tiny_bigru", "--encoder-weights", "w", "--encoder-layers", "0"],
     "must be positive"),
    (["--preset", "whisper_tiny_bigru", "--encoder-weights", "w", "--trainable-blocks", "-1"],
     "--trainable-blocks must be 0 or more"),
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


def test_a_shared_cache_must_hold_the_same_rows(tmp_path, frozen_task):
    task = frozen_task
    script = _script()
    encode, _ = script.encoder_and_head(task)
    data = _corpus(tmp_path / "corpus", ["ab", "ba", "a b"])
    rows = script.read_rows(data, "train", None, seed=0)
    script.cache_features(task, encode, rows, str(tmp_path / "cache"))
    script.cache_features(task, encode, rows, str(tmp_path / "cache"))  # reused as it is
    with pytest.raises(ValueError, match="other rows"):
        script.cache_features(task, encode, script.read_rows(data, "train", None, seed=1),
                              str(tmp_path / "cache"))
    task.set_trainable_blocks(1)  # the frozen part now ends below the top block
    with pytest.raises(ValueError, match="another trainable_blocks"):
        script.cache_features(task, script.encoder_and_head(task)[0], rows,
                              str(tmp_path / "cache"))
