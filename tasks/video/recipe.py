"""The video training recipe, shared by the CLI, the notebook and the default-model script.

Example:
    >>> task = train("data/video", "runs/mine", preset="bigru", epochs=2, steps_per_epoch=50)
"""

import os

import keras

from tasks.video.benchmark import read_benchmark
from tasks.video.data import make_dataset
from tasks.video.task import VideoTask


def train(data_dir, output, preset="bigru", epochs=16, steps_per_epoch=250, batch_size=16,
          learning_rate=2e-3, checkpoint_dir=None, train_split="train", val_split="val", seed=0,
          jit_compile="auto", verbose="auto", checkpoint_every=250, limit=None, **overrides):
    """Train (or resume) an annotator on data in the benchmark's layout (``videos/<split>/``,
    ``annotations/captions_<split>.json`` and ``segments_<split>.csv``) and save it to
    ``output``. ``limit`` uses only the first N training clips; ``overrides`` change the
    preset's config. The wall time of the run is ``task.training_seconds``."""
    keras.utils.set_random_seed(seed)
    if preset not in VideoTask.presets or "config" not in VideoTask.presets[preset]:
        raise ValueError(f"preset={preset!r} is not an architecture preset; choose from "
                         f"{sorted(k for k, v in VideoTask.presets.items() if 'config' in v)}")
    train_examples = read_benchmark(data_dir, train_split)[:limit]
    has_val = os.path.exists(os.path.join(data_dir, "annotations", f"captions_{val_split}.json"))
    val = read_benchmark(data_dir, val_split) if has_val else []
    task = VideoTask.from_examples(train_examples, **{**VideoTask.presets[preset]["config"], **overrides})
    c = task.config
    train_ds = make_dataset(train_examples, task.preprocessor, batch_size, training=True, seed=seed,
                            fps=c["fps"], max_frames=c["max_frames"], repeat=True)
    val_ds = val and make_dataset(val, task.preprocessor, batch_size, training=True, seed=seed,
                                  fps=c["fps"], max_frames=c["max_frames"], shuffle_buffer=0)
    task.train_and_save(train_ds, val_ds or None, output, epochs, steps_per_epoch, learning_rate,
                        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                        jit_compile=jit_compile, verbose=verbose)
    return task
