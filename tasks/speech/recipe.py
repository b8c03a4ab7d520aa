"""The speech training and evaluation recipes, shared by the CLI, the notebook and
``tools/train_default_speech.py`` so they cannot drift apart.

Example:
    >>> task = train("data/speech_en", "runs/asr", preset="bigru_small", epochs=2,
    ...              steps_per_epoch=100)
    >>> evaluate_splits(task, "data/speech_en", ["test"], limit=200)
    {'test': {'wer': ..., 'cer': ..., 'examples': 200}}
"""

import os
import time

import keras

from tasks.speech.data import make_training_dataset, read_ljspeech
from tasks.speech.task import SpeechTask


def read_split(data_dir, split, limit=None):
    """``data_dir/<split>`` in the LJSpeech layout (the built-in corpus's layout).

    ``"<split>:<engine>"`` keeps the utterances one synthesiser spoke (the corpus's
    ``utterances.tsv``), e.g. ``"test:flite"``: the held-out voice of another engine.
    """
    split, _, engine = split.partition(":")
    examples = read_ljspeech(os.path.join(data_dir, split))
    if engine:
        table = os.path.join(data_dir, split, "utterances.tsv")
        if not os.path.exists(table):
            raise ValueError(f"{split}:{engine}: {table} is missing (only the built-in corpus "
                             "records the engine of each utterance)")
        with open(table, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f][1:]
        spoken = {row[0] for row in rows if row[1] == engine}
        if not spoken:
            raise ValueError(f"{split}:{engine}: no utterance of that engine; engines there: "
                             f"{sorted({row[1] for row in rows})}")
        examples = [e for e in examples if e["id"] in spoken]
    return examples[:limit] if limit else examples


def train(data_dir, output, preset="bigru", epochs=10, steps_per_epoch=1000, batch_size=32,
          learning_rate=1e-3, checkpoint_dir=None, train_split="train", val_split="val",
          val_limit=200, seed=0, jit_compile="auto", augment=True, task=None, verbose="auto",
          augment_probability=1.0, **overrides):
    """Train (or resume) a speech task on LJSpeech-layout splits and save it to ``output``.

    Re-running the same call after an interruption resumes from ``checkpoint_dir``
    (default ``output/checkpoints``) and finishes the same run. ``augment_probability``:
    the share of training utterances that go through the audio augmentation (the rest clean).
    """
    keras.utils.set_random_seed(seed)
    train_examples = read_split(data_dir, train_split)
    if task is None:
        config = SpeechTask.presets[preset].get("config")
        task = (SpeechTask(config, **overrides) if config is not None
                else SpeechTask.from_preset(preset, **overrides))
    train_ds = make_training_dataset(train_examples, task.preprocessor, batch_size, training=True,
                                     seed=seed, augment_audio=augment, repeat=True,
                                     augment_probability=augment_probability)
    val_ds = None
    if val_split and os.path.isdir(os.path.join(data_dir, val_split)):
        val_ds = make_training_dataset(read_split(data_dir, val_split, val_limit), task.preprocessor,
                                       batch_size)
    task.train_and_save(train_ds, val_ds, output, epochs, steps_per_epoch, learning_rate,
                        warmup_steps=min(500, epochs * steps_per_epoch // 10),
                        checkpoint_dir=checkpoint_dir, jit_compile=jit_compile, verbose=verbose)
    return task


def evaluate_splits(task, data_dir, splits=("test",), beam_width=None, limit=None, batch_size=32,
                    language_model=None):
    """WER/CER (percent) per split, plus decoding time; transcripts kept under ``examples``.
    ``language_model``: None = the model's default, True/False to force it on or off."""
    results = {}
    for split in splits:
        examples = read_split(data_dir, split, limit)
        ds = make_training_dataset(examples, task.preprocessor, batch_size, labels="text")
        start = time.time()
        result = task.evaluate(ds, beam_width=beam_width, language_model=language_model)
        result["seconds"] = round(time.time() - start, 2)
        results[split] = result
    return results
