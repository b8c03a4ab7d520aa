"""Shared fixtures: a tiny benchmark on disk and a tiny (briefly trained) captioner."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import subprocess  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import pytest  # noqa: E402

from tasks.captioning.benchmark import build_benchmark  # noqa: E402
from tasks.captioning.data import make_dataset, read_coco_captions  # noqa: E402
from tasks.captioning.task import CaptioningTask  # noqa: E402
from trained_once import trained_once  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY_CONFIG = {
    "image_size": 48,
    "sequence_length": 16,
    "encoder_widths": [8, 16, 24],
    "decoder": "transformer",
    "decoder_options": {"hidden_dim": 32, "num_layers": 1, "num_heads": 2, "intermediate_dim": 64,
                        "dropout": 0.0},
    "beam_width": 2,
}


def tiny_task(examples, **overrides):
    keras.utils.set_random_seed(0)
    return CaptioningTask.from_examples(examples, **{**TINY_CONFIG, **overrides})


def _file_seconds():
    path = os.path.join(ROOT, "tests", "file_seconds.json")
    if not os.path.exists(path):
        return {}
    import json

    with open(path) as f:
        return json.load(f)


def pytest_collection_modifyitems(config, items):
    """Longest test files first (the times in ``tests/file_seconds.json``, written by
    ``tools/test_file_seconds.py``; a file not in it counts as longest, being new).

    Each xdist worker takes a whole file at a time (``--dist loadfile``, in collection order
    with ``--no-loadscope-reorder``): handing out the long files first leaves short ones for
    the end, so the two workers finish close together instead of one running a long file
    alone. The sort is stable, so a file's tests keep their order and stay together.
    """
    seconds = _file_seconds()
    if seconds:
        items.sort(key=lambda item: -seconds.get(
            os.path.relpath(str(item.path), ROOT).replace(os.sep, "/"), float("inf")))


@pytest.fixture(scope="session")
def scenes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    return build_benchmark(str(root), sizes={"train": 96, "val": 8, "test": 12}, seed=3,
                           progress=False)


@pytest.fixture(scope="session")
def train_examples(scenes_root):
    return read_coco_captions(scenes_root, "train")


@pytest.fixture(scope="session")
def test_examples(scenes_root):
    return read_coco_captions(scenes_root, "test")


@pytest.fixture(scope="session")
def trained_task(train_examples, tmp_path_factory):
    """A tiny transformer captioner trained for 40 steps (enough to emit words)."""
    def train():
        task = tiny_task(train_examples)
        ds = make_dataset(train_examples, task.preprocessor, 32, training=True, repeat=True)
        task.compile(learning_rate=5e-3, total_steps=40, jit_compile=False)
        task.fit(ds, epochs=1, steps_per_epoch=40, verbose=0)
        return task

    return trained_once(tmp_path_factory, "captioner", train)


@pytest.fixture(scope="session")
def saved_task_dir(trained_task, tmp_path_factory):
    return trained_task.save(str(tmp_path_factory.mktemp("saved") / "task"))


@pytest.fixture(scope="session")
def exported_dir(trained_task, tmp_path_factory):
    return trained_task.export(str(tmp_path_factory.mktemp("export") / "savedmodel"))


@pytest.fixture(scope="session")
def image_bytes(test_examples):
    return [open(e["image"], "rb").read() for e in test_examples[:4]]


from speech_fixtures import (  # noqa: E402,F401  (speech fixtures, shared by several files)
    exported_speech_dir, overfit_speech_task, saved_speech_dir, speech_examples)
from video_fixtures import overfit_video_task, video_events  # noqa: E402,F401
from translation_fixtures import (  # noqa: E402,F401
    exported_translation_dir, heldout_pairs, overfit_translation_task, saved_translation_dir,
    tiny_pairs)


@pytest.fixture(scope="session")
def stock_python():
    """A Python whose environment holds only tensorflow (made once, reused).

    tools/bootstrap.py creates it as .venv-stock; PIPELINES_STOCK_PYTHON overrides.
    """
    python = os.environ.get("PIPELINES_STOCK_PYTHON") or os.path.join(ROOT, ".venv-stock", "bin", "python")
    if not os.path.exists(python):
        import venv

        venv.EnvBuilder(with_pip=True).create(os.path.dirname(os.path.dirname(python)))
        subprocess.run([python, "-m", "pip", "install", "--quiet", f"tensorflow=={tf.__version__}"],
                       check=True, timeout=1500)
    return python


@pytest.fixture(scope="session")
def stock_tf(stock_python):
    """``stock_tf.serve(*args)``: ``tests/stock_tf_serving.py`` run in the stock environment,
    one process for the whole session."""
    from stock_tensorflow import StockTensorFlow

    server = StockTensorFlow(stock_python)
    yield server
    server.close()
