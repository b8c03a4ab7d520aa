"""Speech test fixtures: the committed tiny corpus and a tiny recognizer overfit to it."""

import os

import keras
import pytest

from tasks.speech.data import make_training_dataset, read_ljspeech
from tasks.speech.task import SpeechTask
from trained_once import trained_once

ASTERISK_LISTING = """; Core Asterisk Sounds in English

agent-pass: Please enter your password followed by the pound key.
beep: [this is a simple beep tone]
cards-ten: Ten of clubs.
digits/1: one
dictate/forhelp: press * for help, # to exit
not-recorded: This prompt has no recording.
"""


def write_g722(path, seconds, frequency=300.0):
    """A tone coded as raw G.722 (16 kHz), the format of Asterisk's wideband prompts."""
    import av
    import numpy as np

    t = np.arange(int(16000 * seconds)) / 16000
    samples = (0.3 * np.sin(2 * np.pi * frequency * t) * 32767).astype(np.int16)[None]
    with av.open(str(path), "w", format="g722") as out:
        stream = out.add_stream("g722", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)


def fake_asterisk(tmp_path):
    """The two Asterisk packages' layout: the prompts' text (gzipped) and G.722 recordings."""
    import gzip

    from tasks.speech.recordings import ASTERISK_PACKAGES, ASTERISK_SPEAKER

    (listing_pkg, _), (sounds_pkg, _) = ASTERISK_PACKAGES
    doc = tmp_path / listing_pkg / "usr/share/doc" / listing_pkg
    doc.mkdir(parents=True)
    with gzip.open(doc / "core-sounds-en.txt.gz", "wt") as f:
        f.write(ASTERISK_LISTING)
    sounds = tmp_path / sounds_pkg / "usr/share/asterisk/sounds" / ASTERISK_SPEAKER
    for name, seconds in (("agent-pass", 2.0), ("beep", 0.3), ("cards-ten", 1.0),
                          ("digits/1", 0.5), ("dictate/forhelp", 1.5)):
        (sounds / name).parent.mkdir(parents=True, exist_ok=True)
        write_g722(sounds / f"{name}.g722", seconds)
    return {listing_pkg: tmp_path / listing_pkg, sounds_pkg: tmp_path / sounds_pkg}


def fake_noise_packages(tmp_path, music=(25.0, 8.0), speech=(3.0, 4.0, 5.0)):
    """The noise bank's three packages' layout: music tracks and French / Russian prompts
    of the given lengths (seconds), as G.722."""
    from tasks.speech.noise import NOISE_PACKAGES

    (moh, _), (fr, _), (ru, _) = NOISE_PACKAGES
    trees = {name: tmp_path / name for name in (moh, fr, ru)}
    for i, seconds in enumerate(music):
        folder = trees[moh] / "usr/share/asterisk/moh"
        folder.mkdir(parents=True, exist_ok=True)
        write_g722(folder / f"track{i}.g722", seconds, 200.0 + 50 * i)
    for name, speaker in ((fr, "fr_CA_f_June"), (ru, "ru_RU_f_IvrvoiceRU")):
        for i, seconds in enumerate(speech):
            folder = trees[name] / "usr/share/asterisk/sounds" / speaker / ("digits" if i else "")
            folder.mkdir(parents=True, exist_ok=True)
            write_g722(folder / f"prompt{i}.g722", seconds, 400.0 + 30 * i)
        (folder / "empty.g722").write_bytes(b"")  # as the real Russian set has one
    return trees


SPEECH_FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "speech_en_tiny")
TINY_SPEECH_CONFIG = {
    "architecture": "bigru",
    "options": {"units": 64, "num_layers": 1, "projection": 64, "dropout": 0.0},
    "subsampling_channels": 8,
    "spec_augment": False,
    "n_mels": 40,
}


def tiny_speech_task(**overrides):
    keras.utils.set_random_seed(0)
    return SpeechTask({**TINY_SPEECH_CONFIG, **overrides})


@pytest.fixture(scope="session")
def speech_examples():
    return read_ljspeech(SPEECH_FIXTURE)


@pytest.fixture(scope="session")
def overfit_speech_task(speech_examples, tmp_path_factory):
    """A tiny recognizer trained on the six fixture utterances until it knows them."""
    def train():
        task = tiny_speech_task()
        ds = make_training_dataset(speech_examples, task.preprocessor, 6, training=True,
                                   augment_audio=False, repeat=True)
        task.compile(learning_rate=8e-3, total_steps=320, warmup_steps=10, jit_compile=False)
        task.fit(ds, epochs=1, steps_per_epoch=320, verbose=0)
        return task

    return trained_once(tmp_path_factory, "speech", train)


@pytest.fixture(scope="session")
def saved_speech_dir(overfit_speech_task, tmp_path_factory):
    return overfit_speech_task.save(str(tmp_path_factory.mktemp("speech") / "task"))


@pytest.fixture(scope="session")
def exported_speech_dir(overfit_speech_task, tmp_path_factory):
    return overfit_speech_task.export(str(tmp_path_factory.mktemp("speech_export") / "savedmodel"))
