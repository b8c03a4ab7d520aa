"""Speech readers on fixtures in the real layouts, and the augmentation building blocks."""

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from tasks.speech.augment import (add_noise, gain, power, random_gain, reverberate, speed_perturb,
                                  synthetic_rir)
from tasks.speech.data import load_audio, make_dataset, read_common_voice, read_librispeech, read_ljspeech

RATE = 16000


def tone(freq=440.0, seconds=0.5, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_ljspeech_layout(tmp_path):
    (tmp_path / "wavs").mkdir()
    soundfile.write(tmp_path / "wavs" / "LJ001-0001.wav", tone(rate=22050), 22050)
    (tmp_path / "metadata.csv").write_text(
        "LJ001-0001|Printing, in the 15th century|Printing, in the fifteenth century\n"
        "LJ001-0002|in being comparatively modern.|\n", encoding="utf-8")
    ex = read_ljspeech(str(tmp_path))
    assert ex[0]["text"] == "Printing, in the fifteenth century"
    assert ex[1]["text"] == "in being comparatively modern."  # falls back to the raw text
    audio = load_audio(ex[0]["audio"], RATE)  # 22.05 kHz resampled to 16 kHz
    assert audio.dtype == np.float32 and abs(len(audio) - RATE // 2) <= 1
    (tmp_path / "metadata.csv").write_text("just one field\n")
    with pytest.raises(ValueError, match="expected 'id|text"):
        read_ljspeech(str(tmp_path))


def test_librispeech_layout(tmp_path):
    chapter = tmp_path / "84" / "121123"
    chapter.mkdir(parents=True)
    soundfile.write(chapter / "84-121123-0000.flac", tone(), RATE, format="FLAC")
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n", encoding="utf-8")
    ex = read_librispeech(str(tmp_path))
    assert ex == [{"id": "84-121123-0000", "audio": str(chapter / "84-121123-0000.flac"),
                   "text": "GO DO YOU HEAR", "speaker": "84"}]
    np.testing.assert_allclose(load_audio(ex[0]["audio"]), tone(), atol=1e-4)  # FLAC is lossless
    with pytest.raises(ValueError, match="trans.txt"):
        read_librispeech(str(tmp_path / "84"))


def test_common_voice_layout(tmp_path):
    (tmp_path / "clips").mkdir()
    soundfile.write(tmp_path / "clips" / "common_voice_en_1.wav", tone(rate=48000), 48000)
    (tmp_path / "test.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\tdown_votes\n"
        "abc123\tcommon_voice_en_1.wav\tHe said \"hello\".\t2\t0\n", encoding="utf-8")
    ex = read_common_voice(str(tmp_path / "test.tsv"))
    assert ex[0]["text"] == 'He said "hello".' and ex[0]["speaker"] == "abc123"
    assert abs(len(load_audio(ex[0]["audio"])) - RATE // 2) <= 1
    (tmp_path / "bad.tsv").write_text("client_id\tfile\n")
    with pytest.raises(ValueError, match="lacks the column"):
        read_common_voice(str(tmp_path / "bad.tsv"))


def test_audio_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_audio(str(tmp_path / "none.wav"))
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(ValueError, match="not a readable audio file"):
        load_audio(str(tmp_path / "bad.wav"))


def test_dataset_pads_and_reports_lengths(tmp_path):
    for i, secs in enumerate((0.25, 0.5)):
        soundfile.write(tmp_path / f"{i}.wav", tone(seconds=secs), RATE)
    ds = make_dataset([{"audio": str(tmp_path / f"{i}.wav"), "text": t} for i, t in enumerate("ab")])
    audio, lengths, text = next(iter(ds))
    assert audio.shape == (2, RATE // 2) and lengths.numpy().tolist() == [RATE // 4, RATE // 2]


def test_noise_reaches_the_requested_snr():
    speech = tf.constant(tone())
    noise = tf.random.stateless_normal([3000], [1, 2])
    for snr in (0.0, 10.0, 20.0):
        mixed = add_noise(speech, noise, snr)
        measured = 10 * np.log10(float(power(speech)) / float(power(mixed - speech)))
        assert measured == pytest.approx(snr, abs=0.05)


def test_speed_perturbation_scales_length_and_pitch():
    speech = tf.constant(tone(440.0, seconds=1.0))
    fast = speed_perturb(speech, 1.1).numpy()
    assert abs(len(fast) - RATE / 1.1) <= 1
    peak = np.argmax(np.abs(np.fft.rfft(fast))) * RATE / len(fast)
    assert peak == pytest.approx(484.0, abs=2.0)
    np.testing.assert_allclose(speed_perturb(speech, 1.0), speech, atol=1e-6)


def test_gain_is_exact_in_decibels_and_seeded():
    speech = tf.constant(tone())
    assert 10 * np.log10(float(power(gain(speech, 6.0))) / float(power(speech))) == pytest.approx(6.0, abs=1e-4)
    a, b = random_gain(speech, [3, 4]), random_gain(speech, [3, 4])
    np.testing.assert_array_equal(a, b)


def test_synthetic_rir_decays_at_its_rt60_and_reverb_spreads_energy():
    rir = synthetic_rir(RATE, rt60=0.5, seed=[5, 6]).numpy()
    tail = rir[1:]
    # Schroeder backward integration: energy decay curve in dB
    edc = 10 * np.log10(np.cumsum(tail[::-1] ** 2)[::-1] / np.sum(tail ** 2))
    t5, t25 = np.argmax(edc < -5) / RATE, np.argmax(edc < -25) / RATE
    rt60 = 3 * (t25 - t5)  # T20 extrapolated to 60 dB
    assert rt60 == pytest.approx(0.5, rel=0.15)
    click = np.zeros(RATE, np.float32)
    click[100] = 1.0
    wet = reverberate(tf.constant(click), tf.constant(rir)).numpy()
    assert wet.shape == click.shape and np.max(np.abs(wet)) == pytest.approx(1.0)
    assert np.sum(wet[2000:] ** 2) > 0.01  # energy after the direct sound


def test_augment_probability_lets_a_share_through_clean():
    from speech_fixtures import SPEECH_FIXTURE, tiny_speech_task
    from tasks.speech.data import make_training_dataset

    examples = read_ljspeech(SPEECH_FIXTURE)
    pre = tiny_speech_task().preprocessor

    def features(**kwargs):
        ds = make_training_dataset(examples, pre, 6, training=True, seed=4, **kwargs)
        return np.concatenate([x["features"].numpy().ravel() for x, _ in ds])

    clean = features(augment_audio=False)
    np.testing.assert_allclose(features(augment_probability=0.0), clean)
    augmented = features(augment_probability=1.0)  # speed changes lengths too
    assert augmented.shape != clean.shape or not np.allclose(augmented, clean)
    with pytest.raises(ValueError, match="augment_probability"):
        make_training_dataset(examples, pre, 6, training=True, augment_probability=1.5)
