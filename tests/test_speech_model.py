"""Speech preprocessing, model, CTC loss and decoding on tiny models."""

import io
import json
import os
import shutil

import numpy as np
import pytest
import soundfile
import tensorflow as tf
from scipy.signal import resample as scipy_resample

from speech_fixtures import tiny_speech_task
from tasks.core import audio as audio_ops
from tasks.core.task import Task
from tasks.speech.data import load_audio, make_training_dataset
from tasks.speech.model import SpecAugment
from tasks.speech.preprocessing import SpeechPreprocessor, normalize_transcript
from tasks.speech.recipe import read_split
from tasks.speech.task import ctc_loss, word_timestamps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TEXTS = ["Hello, World!", "it's 5 O'CLOCK", "  tabs\tand\nnewlines  ", "Émile's café", "", "a--b"]


def test_text_normalisation_graph_equals_python():
    pre = SpeechPreprocessor()
    graph = [t.decode() for t in pre.normalize(TEXTS).numpy()]
    assert graph == [normalize_transcript(t) for t in TEXTS]
    ids, lengths = pre.text_to_ids(TEXTS)
    assert [t.decode() for t in pre.ids_to_text(ids).numpy()] == graph
    assert lengths.numpy().tolist() == [len(t) for t in graph]
    assert int(tf.reduce_min(tf.where(ids > 0, ids, 99))) >= 1  # no label is the blank


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_keeps_the_tone_and_matches_scipy(rate):
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    out = audio_ops.resample(tone, rate, 16000).numpy()
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over one second
    np.testing.assert_allclose(out, scipy_resample(tone, 16000), atol=2e-3)


def test_wav_bytes_path_equals_waveform_path():
    """Stereo 44.1 kHz WAV bytes through the graph == mono mix resampled, then features."""
    pre = SpeechPreprocessor()
    rng = np.random.default_rng(0)
    stereo = (rng.standard_normal((44100, 2)) * 0.1).astype(np.float32)
    buf = io.BytesIO()
    soundfile.write(buf, stereo, 44100, format="WAV", subtype="PCM_16")
    feats, frames = pre.from_wav_bytes([buf.getvalue()])
    pcm = soundfile.read(io.BytesIO(buf.getvalue()), dtype="float32")[0].mean(axis=1)
    mono = audio_ops.resample(pcm, 44100, 16000)
    expected, expected_frames = pre(mono[None], tf.shape(mono)[:1])
    np.testing.assert_allclose(feats.numpy(), expected.numpy(), atol=1e-4)
    assert frames.numpy().tolist() == expected_frames.numpy().tolist()


def test_padding_the_audio_changes_no_feature_logit_or_transcript(overfit_speech_task, speech_examples):
    task = overfit_speech_task
    waves = [load_audio(e["audio"]) for e in speech_examples[:3]]
    audio, lengths = audio_ops.pad_batch(waves)
    longer = np.pad(audio, [[0, 0], [0, 7777]])
    logits = task.logits(audio, lengths)
    padded_logits = task.logits(longer, lengths)
    np.testing.assert_allclose(padded_logits[:, : logits.shape[1]], logits, atol=1e-4)
    alone = [task.transcribe(w[None], [len(w)])[0] for w in waves]
    assert task.transcribe(longer, lengths) == alone
    assert task.transcribe(audio, lengths) == alone


def test_xla_logits_equal_the_plain_graphs(overfit_speech_task, speech_examples):
    """The long-recording path's XLA-compiled network gives the plain graph's logits."""
    waves = [load_audio(e["audio"]) for e in speech_examples[:3]]
    audio, lengths = audio_ops.pad_batch(waves)
    np.testing.assert_allclose(overfit_speech_task.logits(audio, lengths, jit_compile=True),
                               overfit_speech_task.logits(audio, lengths), atol=1e-4)
    assert overfit_speech_task.use_jit() is True  # the default
    with pytest.raises(ValueError, match=r"jit_compile.*True or False"):
        tiny_speech_task(jit_compile="auto").use_jit()


def test_clips_run_compiled_in_their_bucket_once_it_is_used(overfit_speech_task, speech_examples,
                                                           monkeypatch):
    """A clip batch's first call runs uncompiled; once its bucket's uncompiled calls have taken
    JIT_AFTER_SECONDS (0 here), it runs padded to the bucket under XLA: the same logits on the
    valid frames, the same shape, the same transcripts (through the pipeline too). Wider than
    the largest bucket, or with jit_compile False, it stays uncompiled."""
    from tasks.speech import task as speech_task

    monkeypatch.setattr(speech_task, "JIT_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(speech_task, "CLIP_BUCKET_SECONDS", (0.5, 1, 2))
    base = overfit_speech_task
    task = speech_task.SpeechTask(base.config, preprocessor=base.preprocessor, model=base.model)
    waves = [load_audio(e["audio"]) for e in speech_examples[:2]]
    audio, lengths = audio_ops.pad_batch(waves)
    assert 8000 < audio.shape[1] < 16000 and min(lengths) < audio.shape[1]
    plain = base.logits(audio, lengths)
    texts = base.transcribe(audio, lengths)
    xla = task._compiled(None, "logits_xla")

    first = task.clip_logits(audio, lengths)  # uncompiled, counted towards its bucket
    assert xla.experimental_get_tracing_count() == 0
    bucket = task.clip_compile_policy().key(*audio.shape)
    assert task.clip_compile_policy().compiled_shapes() == [bucket] and bucket[1] > audio.shape[1]
    second = task.clip_logits(audio, lengths)  # padded to the bucket, compiled
    assert xla.experimental_get_tracing_count() == 1
    assert first.shape == second.shape == plain.shape
    np.testing.assert_allclose(first, plain, atol=1e-6)
    for row, n in enumerate(lengths):
        valid = task.valid_frames(n)
        np.testing.assert_allclose(second[row, :valid], plain[row, :valid], atol=1e-4)
    assert task.transcribe(audio, lengths) == texts
    got, logits = task.transcribe(audio, lengths, return_logits=True)
    assert got == texts and logits.shape == plain.shape
    assert xla.experimental_get_tracing_count() == 1  # the same bucket: no new compile
    import pipelines  # its clips batch to the same shape: compiled, the same transcripts

    calls, logits_of = [], task.logits
    monkeypatch.setattr(task, "logits", lambda *args, jit_compile=False: calls.append(
        jit_compile) or logits_of(*args, jit_compile=jit_compile))
    assert pipelines.transcribe(waves, sampling_rate=16000, model=task) == texts
    assert calls == [True] and xla.experimental_get_tracing_count() == 1

    long = np.tile(audio[:1], [1, 4])  # over the largest bucket (2 s)
    assert task.clip_compile_policy().key(*long.shape) is None
    for _ in range(2):
        task.clip_logits(long, [long.shape[1]])
    off = speech_task.SpeechTask(base.config, preprocessor=base.preprocessor, model=base.model,
                                 jit_compile=False)
    for _ in range(2):
        np.testing.assert_allclose(off.clip_logits(audio, lengths), plain, atol=1e-6)
        assert off.transcribe(audio, lengths) == texts
    assert xla.experimental_get_tracing_count() == 1
    assert off.clip_compile_policy().compiled_shapes() == []
    assert off._compiled(None, "logits_xla").experimental_get_tracing_count() == 0


def test_compile_policy_compiles_a_shape_only_after_its_uncompiled_time():
    from tasks.core.compile_policy import CompilePolicy

    policy = CompilePolicy([100, 200], after_seconds=1.0)
    assert policy.key(3, 150) == (3, 200) and policy.key(1, 100) == (1, 100)
    assert policy.key(1, 201) is None and not policy.ready(None)
    key = policy.key(1, 50)
    assert not policy.ready(key)
    policy.spend(key, 0.6)
    assert not policy.ready(key) and not policy.ready((2, 100))
    policy.spend(key, 0.6)
    assert policy.ready(key) and policy.compiled_shapes() == [(1, 100)]
    assert not CompilePolicy([100], 0.0).ready((1, 100))  # never before a first call
    assert CompilePolicy([], 0.0).key(1, 1) is None  # no buckets: nothing compiles
    for bad in ([200, 100], [0, 100], [100, 100]):
        with pytest.raises(ValueError, match="buckets"):
            CompilePolicy(bad, 1.0)
    with pytest.raises(ValueError, match="after_seconds"):
        CompilePolicy([100], -1.0)


def test_label_padding_does_not_change_the_loss():
    logits = tf.random.stateless_normal([2, 30, 29], [1, 2])
    labels = tf.constant([[5, 6, 6, 7], [8, 9, 0, 0]])
    padded = tf.pad(labels, [[0, 0], [0, 9]])
    np.testing.assert_allclose(ctc_loss(labels, logits), ctc_loss(padded, logits), rtol=1e-6)
    # each row equals the loss of its own unpadded label sequence
    for row, label in enumerate(([5, 6, 6, 7], [8, 9])):
        alone = tf.nn.ctc_loss(tf.constant([label]), logits[row:row + 1], [len(label)], [30],
                               logits_time_major=False, blank_index=0)
        np.testing.assert_allclose(ctc_loss(padded, logits)[row], alone[0], rtol=1e-5)


def test_padded_frames_do_not_change_the_loss():
    task = tiny_speech_task()
    feats = tf.random.stateless_normal([1, 120, 40], [3, 4])
    labels = tf.constant([[4, 5, 6]])
    short = task.model({"features": feats, "frames": tf.constant([120])})
    long = task.model({"features": tf.pad(feats, [[0, 0], [0, 50], [0, 0]]),
                       "frames": tf.constant([120])})
    np.testing.assert_allclose(ctc_loss(labels, short), ctc_loss(labels, long), rtol=1e-4)


def test_tiny_model_overfits_to_cer_zero(overfit_speech_task, speech_examples):
    ds = make_training_dataset(speech_examples, overfit_speech_task.preprocessor, 6, labels="text")
    result = overfit_speech_task.evaluate(ds)
    assert result["cer"] == 0.0, result["transcripts"]


def test_beam_one_equals_greedy_and_beam_decodes(overfit_speech_task, speech_examples):
    task = overfit_speech_task
    audio, lengths = audio_ops.pad_batch([load_audio(e["audio"]) for e in speech_examples])
    greedy = task.transcribe(audio, lengths, beam_width=1)
    logits = task.logits(audio, lengths)
    assert task.decode_batch(logits, 1) == greedy
    assert task.transcribe(audio, lengths, beam_width=8) == greedy  # a model this sure agrees


def test_spec_augment_only_in_training():
    task = tiny_speech_task(spec_augment={"freq_width": 10, "time_width": 20, "seed": 1})
    x = {"features": tf.ones([2, 200, 40]), "frames": tf.constant([200, 150])}
    layer = task.model.get_layer("spec_augment")
    assert np.array_equal(layer(x["features"], x["frames"], training=False), x["features"])
    masked = layer(x["features"], x["frames"], training=True).numpy()
    assert 0.0 < (masked == 0).mean() < 0.6


def _tone_features(hertz):
    t = np.arange(16000, dtype=np.float32) / 16000
    features, _ = audio_ops.log_mel(np.sin(2 * np.pi * hertz * t)[None], tf.constant([16000]),
                                    normalize=False)
    return features


def test_vtlp_warp_moves_formants_by_its_factor():
    layer = SpecAugment(warp=0.2, seed=3)
    noise = tf.random.stateless_normal([2, 5, 80], [1, 2])
    np.testing.assert_allclose(layer.warped(noise, tf.constant([1.0, 1.0])), noise, atol=1e-3)
    # a 1 kHz tone stretched by 1.2 peaks where a 1.2 kHz tone does, and back again
    peak = lambda f: int(tf.argmax(f[0, 10]))  # noqa: E731
    low, high = _tone_features(1000.0), _tone_features(1200.0)
    assert peak(low) != peak(high)
    assert peak(layer.warped(low, tf.constant([1.2]))) == peak(high)
    assert peak(layer.warped(high, tf.constant([1 / 1.2]))) == peak(low)
    ones = tf.ones([2, 50, 80])
    assert np.array_equal(layer(ones, tf.constant([50, 40]), training=False), ones)
    with pytest.raises(ValueError, match="warp"):
        SpecAugment(warp=0.6)


def test_set_spec_augment_keeps_weights_and_is_saved(tmp_path):
    task = tiny_speech_task(spec_augment={"seed": 1})
    before = [w.numpy() for w in task.model.weights]
    task.set_spec_augment(warp=0.1)
    assert task.model.get_layer("spec_augment").warp == 0.1
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, task.model.weights))
    task.save(str(tmp_path / "task"))
    loaded = Task.load(str(tmp_path / "task"))
    assert loaded.model.get_layer("spec_augment").warp == 0.1
    assert loaded.config["spec_augment"]["warp"] == 0.1
    with pytest.raises(ValueError, match="unknown SpecAugment settings"):
        task.set_spec_augment(wrap=0.1)
    with pytest.raises(ValueError, match="warp"):
        task.set_spec_augment(warp=2.0)
    with pytest.raises(ValueError, match="without SpecAugment"):
        tiny_speech_task().set_spec_augment(warp=0.1)


def test_read_split_keeps_one_engine(tmp_path):
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "speech_en_tiny")
    shutil.copytree(fixture, tmp_path / "test")
    assert len(read_split(str(tmp_path), "test")) == 6
    natural = read_split(str(tmp_path), "test:piper")
    assert [e["id"] for e in natural] == ["test_natural_000425", "test_natural_000171"]
    assert len(read_split(str(tmp_path), "test:espeak-ng")) == 4
    with pytest.raises(ValueError, match="engines there"):
        read_split(str(tmp_path), "test:flite")


def test_conformer_variant_builds_trains_and_is_padding_invariant():
    task = tiny_speech_task(architecture="conformer",
                            options={"dim": 32, "num_layers": 1, "heads": 2, "kernel_size": 5})
    feats = tf.random.stateless_normal([1, 90, 40], [5, 6])
    a = task.model({"features": feats, "frames": tf.constant([90])})
    b = task.model({"features": tf.pad(feats, [[0, 0], [0, 40], [0, 0]]), "frames": tf.constant([90])})
    np.testing.assert_allclose(b[:, : a.shape[1]], a, atol=1e-4)
    x = {"features": tf.concat([feats, feats], 0), "frames": tf.constant([90, 60])}
    task.compile(total_steps=2, jit_compile=False)
    history = task.model.fit(x, tf.constant([[4, 5], [6, 0]]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_word_timestamps_from_the_alignment():
    alphabet = " ab"
    frames = [0, 2, 2, 0, 3, 1, 0, 0, 3, 3, 0]  # "ab" then " " then "b"
    log_probs = np.log(np.eye(4)[frames] * 0.97 + 0.01)
    words = word_timestamps(log_probs, alphabet, frame_seconds=0.04)
    assert words == [{"word": "ab", "start": 0.04, "end": 0.2, "confidence": 0.98},
                     {"word": "b", "start": 0.32, "end": 0.4, "confidence": 0.98}]
    # plain floats, not numpy scalars (which print as np.float64(0.04) under numpy 2)
    assert {type(w[k]) for w in words for k in ("start", "end", "confidence")} == {float}
    assert word_timestamps(np.zeros([0, 4]), alphabet) == []


def test_word_confidence_is_the_geometric_mean_of_its_letters_peak_probabilities():
    alphabet = " ab"
    frames = [0, 2, 2, 0, 3, 1, 0, 0, 3, 3, 0]  # "ab" then " " then "b"
    probs = np.eye(4)[frames] * 0.97 + 0.01
    probs[1] = [0.3, 0.1, 0.5, 0.1]  # "a": 0.5 on its first frame, 0.98 on its second
    probs[4] = [0.2, 0.1, 0.1, 0.6]  # "b" of "ab": 0.6 on its only frame
    probs[8:10] = [[0.3, 0.1, 0.1, 0.5], [0.35, 0.1, 0.1, 0.45]]  # the lone "b": 0.5, 0.45
    words = word_timestamps(np.log(probs), alphabet)
    assert [w["word"] for w in words] == ["ab", "b"]
    # the peak over a letter's frames, the geometric mean over the word; blanks do not count
    assert [w["confidence"] for w in words] == [round((0.98 * 0.6) ** 0.5, 3), 0.5]
    # a path that spells a letter the network did not hear scores that letter's probability
    path = [0, 2, 2, 0, 2, 1, 0, 0, 3, 3, 0]  # "aa b": the search read frame 4 as "a"
    words = word_timestamps(np.log(probs), alphabet, path=path, text="aa b")
    assert [(w["word"], w["confidence"]) for w in words] == [("aa", round((0.98 * 0.1) ** 0.5, 3)),
                                                             ("b", 0.5)]


def test_word_timestamps_place_the_transcripts_words_on_a_language_model_path():
    # the search spelt "ab bass" with no space frame between the words and one "s" frame
    # for the doubled letter: the path alone reads "abbas"
    alphabet = " abs"
    path = [2, 3, 0, 3, 2, 4, 4, 0]
    log_probs = np.zeros([len(path), 5])
    assert [w["word"] for w in word_timestamps(log_probs, alphabet, path=path)] == ["abbas"]
    words = word_timestamps(log_probs, alphabet, frame_seconds=0.04, path=path, text="ab bass")
    assert words == [{"word": "ab", "start": 0.0, "end": 0.08, "confidence": 1.0},
                     {"word": "bass", "start": 0.12, "end": 0.28, "confidence": 1.0}]
    # a transcript the path does not spell keeps the path's own words
    assert [w["word"] for w in word_timestamps(log_probs, alphabet, path=path, text="ab sab")] \
        == ["abbas"]


def test_save_load_round_trip_and_config_json(overfit_speech_task, saved_speech_dir, speech_examples):
    loaded = Task.load(saved_speech_dir)
    audio, lengths = audio_ops.pad_batch([load_audio(e["audio"]) for e in speech_examples])
    assert loaded.transcribe(audio, lengths) == overfit_speech_task.transcribe(audio, lengths)
    config = loaded.preprocessor.get_config()
    assert SpeechPreprocessor.from_config(json.loads(json.dumps(config))).alphabet == config["alphabet"]


def _speech_training_script():
    from tests.scripts import load_script

    return load_script(os.path.join("tools", "train_default_speech.py"))


@pytest.mark.parametrize("argv, message", [
    (["--warp", "0.7"], "--warp: expected a fraction"),
    (["--warp", "0.1", "--evaluate-only"], "cannot go with --evaluate-only"),
    (["--average-with", "x", "--evaluate-only"], "--average-with changes the trained network"),
    (["--preset", "bigru_huge"], "--preset: expected one of"),
    (["--preset", "speech_en_bigru"], "--preset: expected one of"),  # weights, not an architecture
    (["--preset", "conformer_small", "--continue-from", "x"], "give one of them"),
    (["--widen", "256"], "--widen grows a saved network: give --continue-from too"),
    (["--widen", "256", "--continue-from", "x", "--evaluate-only"], "cannot go with --evaluate-only"),
    (["--widen", "128", "--continue-from", os.path.join(ROOT, "tasks", "speech", "weights",
                                                        "speech_en_bigru")],
     "--widen: units=128; expected an int at least the network's 256"),
    (["--encoder-weights", "pypi"], "give --preset whisper_tiny_bigru"),
    (["--preset", "whisper_tiny_bigru"], "give --encoder-weights FILE"),
])
def test_speech_training_script_rejects_bad_presets(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        _speech_training_script().main(argv + ["--data-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # refused before building a corpus
