"""Speech test fixtures: the committed tiny corpus and a tiny recognizer overfit to it."""

import os

import keras
import pytest

from tasks.speech.data import make_training_dataset, read_ljspeech
from tasks.speech.task import SpeechTask
from trained_once import trained_once

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
