"""The captioning training recipe, shared by the CLI and notebooks.

Example:
    >>> task = train("data/emoji_scenes", "runs/mine", preset="transformer_small", epochs=2)
"""

import os

import keras

from tasks.captioning.data import make_dataset, read_coco_captions
from tasks.captioning.task import CaptioningTask


def train(data_dir, output, preset="transformer_small", epochs=10, steps_per_epoch=1000,
          batch_size=64, learning_rate=2e-3, checkpoint_dir=None, train_split="train",
          val_split="val", seed=0, jit_compile="auto", verbose="auto", checkpoint_every=500,
          **overrides):
    """Train (or resume) a captioner on COCO-format data and save it to ``output``.

    ``overrides`` change the preset's config (e.g. ``image_size``); the run's Keras
    history is ``task.model.history`` and its wall time ``task.training_seconds``.
    """
    keras.utils.set_random_seed(seed)
    train_examples = read_coco_captions(data_dir, train_split)
    val_path = os.path.join(data_dir, "annotations", f"captions_{val_split}.json")
    val = read_coco_captions(data_dir, val_split) if os.path.exists(val_path) else None
    if preset not in CaptioningTask.presets or "config" not in CaptioningTask.presets[preset]:
        raise ValueError(f"preset={preset!r} is not an architecture preset; choose from "
                         f"{sorted(k for k, v in CaptioningTask.presets.items() if 'config' in v)}")
    task = CaptioningTask.from_examples(train_examples,
                                        **{**CaptioningTask.presets[preset]["config"], **overrides})
    train_ds = make_dataset(train_examples, task.preprocessor, batch_size, training=True, seed=seed,
                            repeat=True)
    val_ds = val and make_dataset(val, task.preprocessor, batch_size, training=True, shuffle_buffer=0)
    task.train_and_save(train_ds, val_ds, output, epochs, steps_per_epoch, learning_rate,
                        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                        jit_compile=jit_compile, verbose=verbose)
    return task
