"""Translation test fixtures: the committed held-out split and a tiny translator overfit
to the committed 8 training pairs."""

import os

import keras
import pytest

from tasks.translation.data import make_training_dataset, read_tsv_pairs
from tasks.translation.task import TranslationTask
from tasks.translation.tokenizer import learn_vocabulary
from trained_once import trained_once

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
HELDOUT = os.path.join(FIXTURES, "translation_heldout", "test.tsv")
TINY_PAIRS = os.path.join(FIXTURES, "debian_en_fr_tiny", "train.tsv")
TINY_OPTIONS = {
    "transformer": {"hidden_dim": 64, "encoder_layers": 1, "decoder_layers": 1, "num_heads": 2,
                    "intermediate_dim": 128, "dropout": 0.0},
    "rnn": {"hidden_dim": 64, "cell": "gru", "dropout": 0.0},
}


def tiny_translation_task(pairs, architecture="transformer", vocabulary_size=400, **overrides):
    keras.utils.set_random_seed(0)
    vocabulary = learn_vocabulary([p["source"] for p in pairs] + [p["target"] for p in pairs],
                                  vocabulary_size, min_frequency=1)
    config = {"vocabulary": vocabulary, "architecture": architecture,
              "options": TINY_OPTIONS[architecture], "source_length": 64, "target_length": 64,
              **overrides}
    return TranslationTask(config)


def overfit(task, pairs, steps=300, learning_rate=5e-3):
    ds = make_training_dataset(pairs, task.preprocessor, len(pairs), training=True, repeat=True)
    task.compile(learning_rate=learning_rate, total_steps=steps, warmup_steps=10, jit_compile=False)
    task.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return task


@pytest.fixture(scope="session")
def heldout_pairs():
    return read_tsv_pairs(HELDOUT)


@pytest.fixture(scope="session")
def tiny_pairs():
    return read_tsv_pairs(TINY_PAIRS)


@pytest.fixture(scope="session")
def overfit_translation_task(tiny_pairs, tmp_path_factory):
    """A tiny Transformer trained on the 8 fixture pairs until it knows them."""
    return trained_once(tmp_path_factory, "translator",
                        lambda: overfit(tiny_translation_task(tiny_pairs), tiny_pairs))


@pytest.fixture(scope="session")
def saved_translation_dir(overfit_translation_task, tmp_path_factory):
    return overfit_translation_task.save(str(tmp_path_factory.mktemp("nmt") / "task"))


@pytest.fixture(scope="session")
def exported_translation_dir(overfit_translation_task, tmp_path_factory):
    return overfit_translation_task.export(str(tmp_path_factory.mktemp("nmt_export") / "savedmodel"))
