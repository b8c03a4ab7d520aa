"""The translation training and evaluation recipes, shared by the CLI, the notebook and
``tools/train_default_translator.py`` so they cannot drift apart.

Example:
    >>> task = train("data/translation_fr", "runs/nmt", preset="transformer_small", epochs=2,
    ...              steps_per_epoch=100)
    >>> evaluate_split(task, "data/translation_fr", "test", limit=200)["bleu"]
"""

import json
import os
import time

import keras

from tasks.translation.cleaning import clean_pairs
from tasks.translation.data import make_training_dataset, read_gettext, read_moses, read_tsv_pairs
from tasks.translation.task import TranslationTask


def read_split(data_dir, split, limit=None):
    """``data_dir/<split>.tsv`` (the built-in corpus's layout, already cleaned)."""
    pairs = read_tsv_pairs(os.path.join(data_dir, f"{split}.tsv"))
    return pairs[:limit] if limit else pairs


def read_files(paths):
    """Your own parallel text, cleaned like the built-in corpus (placeholders -> ``<phN>``).

    Each item is a ``.tsv`` (source, target columns), a ``.po``/``.mo`` catalog, or a
    Moses pair written ``train.en,train.fr``.
    """
    entries = []
    for path in paths:
        if "," in path:
            entries += read_moses(*path.split(",", 1))
        elif path.endswith((".po", ".mo")):
            entries += read_gettext(path)
        elif path.endswith((".tsv", ".txt")):
            entries += read_tsv_pairs(path)
        else:
            raise ValueError(f"{path!r}: expected a .tsv, .po/.mo, or 'SOURCE,TARGET' Moses pair")
    pairs, report = clean_pairs(entries)
    if not pairs:
        raise ValueError(f"no usable pairs in {paths}: {report}")
    return pairs


def train(data_dir, output, preset="transformer_small", epochs=10, steps_per_epoch=1000,
          batch_size=64, learning_rate=1e-3, checkpoint_dir=None, train_pairs=None,
          val_pairs=None, vocabulary_size=8000, val_limit=500, seed=0, jit_compile="auto",
          verbose="auto", task=None, **overrides):
    """Train (or resume) a translator and save it to ``output``.

    Pairs come from ``data_dir/{train,val}.tsv`` unless ``train_pairs``/``val_pairs``
    are given. The vocabulary learned on the first run is kept in
    ``output/vocabulary.json``, so re-running the same call after an interruption
    resumes from ``checkpoint_dir`` (default ``output/checkpoints``) with the same model.
    ``task``: a loaded :class:`TranslationTask` to train further on a fresh schedule (its
    weights and its vocabulary are kept; ``preset`` and ``vocabulary_size`` are unused).
    """
    keras.utils.set_random_seed(seed)
    if train_pairs is None:
        train_pairs = read_split(data_dir, "train")
    if val_pairs is None and data_dir and os.path.isfile(os.path.join(data_dir, "val.tsv")):
        val_pairs = read_split(data_dir, "val", val_limit)
    spec = TranslationTask.presets.get(preset)
    if task is not None:
        if not isinstance(task, TranslationTask):
            raise TypeError(f"task must be a TranslationTask, got {type(task).__name__}")
    elif spec is None or "config" not in spec:
        raise ValueError(f"preset={preset!r} is not an architecture preset; choose from "
                         f"{sorted(k for k, v in TranslationTask.presets.items() if 'config' in v)}")
    os.makedirs(output, exist_ok=True)
    if task is None:
        vocabulary = _vocabulary(os.path.join(output, "vocabulary.json"), train_pairs,
                                 vocabulary_size)
        task = TranslationTask({**spec["config"], "vocabulary": vocabulary}, **overrides)
    train_ds = make_training_dataset(train_pairs, task.preprocessor, batch_size, training=True,
                                     seed=seed, repeat=True)
    val_ds = val_pairs and make_training_dataset(val_pairs, task.preprocessor, batch_size)
    task.train_and_save(train_ds, val_ds, output, epochs, steps_per_epoch, learning_rate,
                        warmup_steps=min(1000, epochs * steps_per_epoch // 10),
                        checkpoint_dir=checkpoint_dir, jit_compile=jit_compile, verbose=verbose)
    return task


def _vocabulary(path, train_pairs, size):
    """The subword vocabulary kept at ``path`` (so a resumed run builds the same model),
    learned from ``train_pairs`` on the first run."""
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    from tasks.translation.tokenizer import learn_vocabulary

    texts = [p["source"] for p in train_pairs] + [p["target"] for p in train_pairs]
    vocabulary = learn_vocabulary(texts, size)
    with open(path, "w") as f:
        json.dump(vocabulary, f)
    return vocabulary


def evaluate_split(task, data_dir, split="test", beam_width=None, limit=None):
    """BLEU, chrF and placeholder preservation on ``data_dir/<split>.tsv``, with timing."""
    pairs = read_split(data_dir, split, limit)
    start = time.time()
    result = task.evaluate(pairs, beam_width=beam_width)
    result["seconds"] = round(time.time() - start, 2)
    return result
