"""Real recorded backgrounds for the speech augmentation: the bank and the mixing."""

import os

import numpy as np
import pytest
import soundfile
import tensorflow as tf

from speech_fixtures import SPEECH_FIXTURE, fake_noise_packages, tiny_speech_task
from tasks.speech import augment
from tasks.speech.data import make_training_dataset, read_ljspeech
from tasks.speech.noise import noise_files, write_noise_bank


def test_the_bank_is_cut_into_pieces_and_kept_on_rebuild(tmp_path):
    trees = list(fake_noise_packages(tmp_path / "pkgs").values())
    folder = tmp_path / "corpus" / "noise"
    rows = write_noise_bank(str(folder), trees)
    # music 25 + 8 s -> three 10 s pieces (one spans both tracks); 12 s of prompts -> one each
    assert rows == [("music_0000.wav", "music"), ("music_0001.wav", "music"), ("music_0002.wav", "music"),
                    ("speech-fr_0000.wav", "speech-fr"), ("speech-ru_0000.wav", "speech-ru")]
    files = noise_files(tmp_path / "corpus")
    assert [os.path.basename(f) for f in files] == [name for name, _ in rows]
    info = soundfile.info(files[0])
    assert info.samplerate == 16000 and info.frames == 160000
    stamps = [os.stat(f).st_mtime_ns for f in files]
    assert write_noise_bank(str(folder), trees) == rows
    assert [os.stat(f).st_mtime_ns for f in files] == stamps
    assert noise_files(tmp_path / "nothing") == []


def test_bank_errors_name_the_package_and_the_length(tmp_path):
    with pytest.raises(ValueError, match="asterisk-moh-opsound-g722"):
        write_noise_bank(str(tmp_path / "noise"), [tmp_path])
    with pytest.raises(ValueError, match="seconds"):
        write_noise_bank(str(tmp_path / "noise"), [tmp_path], seconds=0)


def test_background_is_mixed_at_the_level_asked_from_a_random_point():
    t = np.arange(32000) / 16000
    speech = tf.constant(0.5 * np.sin(2 * np.pi * 220 * t), tf.float32)
    background = tf.constant(np.random.default_rng(0).normal(size=5000), tf.float32)  # shorter: looped
    mixed = augment.add_background(speech, background, 10.0, [1, 2])
    assert mixed.shape == speech.shape
    added = (mixed - speech).numpy()
    snr = 10 * np.log10(np.mean(speech.numpy() ** 2) / np.mean(added ** 2))
    assert abs(snr - 10.0) < 0.1, snr
    other = augment.add_background(speech, background, 10.0, [3, 4]).numpy() - speech.numpy()
    assert not np.allclose(added, other)  # another seed, another starting point
    again = augment.add_background(speech, background, 10.0, [1, 2])
    np.testing.assert_array_equal(mixed.numpy(), again.numpy())


def test_an_empty_background_leaves_the_recipe_as_it_was():
    speech = tf.constant(np.random.default_rng(1).normal(size=16000) * 0.1, tf.float32)
    babble = tf.constant(np.random.default_rng(2).normal(size=8000) * 0.1, tf.float32)
    for seed in ([0, 1], [5, 9], [7, 3]):
        plain = augment.random_augment(speech, seed, babble)
        empty = augment.random_augment(speech, seed, babble, background=tf.zeros([0]))
        np.testing.assert_array_equal(plain.numpy(), empty.numpy())


def test_training_batches_mix_the_bank_in_reproducibly(tmp_path):
    trees = list(fake_noise_packages(tmp_path / "pkgs").values())
    write_noise_bank(str(tmp_path / "noise"), trees)
    examples = read_ljspeech(SPEECH_FIXTURE)
    task = tiny_speech_task()

    def first_batches(background):
        ds = make_training_dataset(examples, task.preprocessor, batch_size=4, training=True, seed=3,
                                   repeat=True, background=background)
        return [x["features"].numpy() for x, _ in ds.take(8)]  # 32 utterances, a quarter mixed

    with_bank = first_batches(noise_files(tmp_path))
    again = first_batches(noise_files(tmp_path))
    without = first_batches(None)
    assert all(np.array_equal(a, b) for a, b in zip(with_bank, again))
    assert any(a.shape != b.shape or not np.allclose(a, b) for a, b in zip(with_bank, without))


def test_train_refuses_an_unknown_background_setting(tmp_path):
    from tasks.speech.recipe import train

    with pytest.raises(ValueError, match="background="):
        train(SPEECH_FIXTURE, str(tmp_path / "out"), background="radio")
