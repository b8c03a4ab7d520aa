"""The speech training and evaluation recipes, shared by the CLI, the notebook and
``tools/train_default_speech.py`` so they cannot drift apart.

Example:
    >>> task = train("data/speech_en", "runs/asr", preset="bigru_small", epochs=2,
    ...              steps_per_epoch=100)
    >>> evaluate_splits(task, "data/speech_en", ["test"], limit=200)
    {'test': {'wer': ..., 'cer': ..., 'examples': 200}}
"""

import itertools
import os
import shutil
import time

import keras

from tasks.core import metrics
from tasks.core.data import text_lines
from tasks.speech.data import make_training_dataset, read_ljspeech
from tasks.speech.noise import noise_files
from tasks.speech.preprocessing import normalize_transcript
from tasks.speech.task import SpeechTask

# (lm_weight, word_score) pairs the language model's weights are chosen from.
LM_GRID = tuple(itertools.product((0.5, 1.0, 1.5, 2.0, 3.0), (-2.0, -1.0, 0.0, 1.0, 2.0)))
# Beside a saved task's lm.arpa when its lexicon holds a word list that asks for its notice.
LM_NOTICE_FILE = "lm_word_list_copyright.txt"


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
          augment_probability=1.0, background="auto", **overrides):
    """Train (or resume) a speech task on LJSpeech-layout splits and save it to ``output``.

    Re-running the same call after an interruption resumes from ``checkpoint_dir``
    (default ``output/checkpoints``) and finishes the same run. ``augment_probability``:
    the share of training utterances that go through the audio augmentation (the rest clean).
    ``background``: WAV paths of real recorded background sounds for the augmentation;
    ``"auto"`` takes the corpus's bank (``<data_dir>/noise``, see ``noise.py``) where it has
    one, ``None`` none.

    Example:
        >>> task = train("data/speech_en", "runs/speech", epochs=2, steps_per_epoch=50)  # doctest: +SKIP
    """
    if isinstance(background, str):
        if background != "auto":
            raise ValueError(f"background={background!r}; expected 'auto', None or a list of WAV paths")
        background = noise_files(data_dir)
    keras.utils.set_random_seed(seed)
    train_examples = read_split(data_dir, train_split)
    if task is None:
        config = SpeechTask.presets[preset].get("config")
        task = (SpeechTask(config, **overrides) if config is not None
                else SpeechTask.from_preset(preset, **overrides))
    train_ds = make_training_dataset(train_examples, task.preprocessor, batch_size, training=True,
                                     seed=seed, augment_audio=augment, repeat=True,
                                     augment_probability=augment_probability,
                                     background=background)
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


def split_log_probs(task, data_dir, split, limit=None, batch_size=32):
    """(list of ``[frames, V]`` CTC log-probabilities, references, greedy transcripts) of one
    split: the network runs once, and every decoder setting is then tried on its output.

    Example:
        >>> rows, refs, greedy = split_log_probs(task, "data/speech_en", "val", limit=100)
    """
    import tensorflow as tf

    ds = make_training_dataset(read_split(data_dir, split, limit), task.preprocessor, batch_size,
                               labels="text")
    logits_fn = tf.function(lambda f, n: tf.nn.log_softmax(
        task.model({"features": f, "frames": n}, training=False)), reduce_retracing=True)
    rows, refs, greedy = [], [], []
    for inputs, texts in ds:
        log_probs = logits_fn(inputs["features"], inputs["frames"]).numpy()
        greedy += task.decode_batch(log_probs, beam_width=1)
        # padded frames are a certain blank, so each row keeps its batch's length
        rows += list(log_probs)
        refs += [t.decode("utf-8") for t in texts.numpy()]
    return rows, refs, greedy


def error_rates(references, hypotheses):
    """``{'wer', 'cer'}`` in percent, rounded to 0.01."""
    return {"wer": round(metrics.wer(references, hypotheses), 2),
            "cer": round(metrics.cer(references, hypotheses), 2)}


def tune_language_model(task, arpa_path, rows, references, grid=LM_GRID, search=None,
                        progress=None):
    """Try every ``(lm_weight, word_score)`` of ``grid`` on a split's log-probabilities
    (:func:`split_log_probs`) with the search options ``search`` (``WordDecoder``'s keyword
    arguments; default :data:`language_model.SEARCH`): returns the pair with the lowest WER
    (then CER) and the table ``[{'lm_weight', 'word_score', 'wer', 'cer'}]``.
    ``progress(row)`` sees each row.

    Example:
        >>> rows, refs, _ = split_log_probs(task, "data/speech_en", "val")
        >>> best, table = tune_language_model(task, "lm.arpa", rows, refs)
    """
    from tasks.speech.language_model import SEARCH, WordDecoder

    table = []
    for lm_weight, word_score in grid:
        decoder = WordDecoder(arpa_path, task.config["alphabet"], lm_weight, word_score,
                              **(SEARCH if search is None else search))
        hypotheses = [decoder.decode_with_path(row)[0] for row in rows]
        table.append({"lm_weight": float(lm_weight), "word_score": float(word_score),
                      **error_rates(references, hypotheses)})
        if progress:
            progress(table[-1])
    best = min(table, key=lambda r: (r["wer"], r["cer"]))
    return (best["lm_weight"], best["word_score"]), table


def text_file_sentences(paths, alphabet):
    """The lines of text files in the recognizer's spoken form (numbers, times and common
    abbreviations written out, :func:`normalize.normalize_for_speech`; then only
    ``alphabet``'s characters); lines with nothing sayable are dropped.

    Example:
        >>> text_file_sentences(["notes.txt"], " 'abcdefghijklmnopqrstuvwxyz")
        ['call me at ten thirty', ...]
    """
    from tasks.speech.normalize import normalize_for_speech

    sentences = []
    for path in paths:
        for _, line in text_lines(path, "text file"):
            spoken = normalize_for_speech(line.strip())
            spoken = normalize_transcript(spoken, alphabet) if spoken else ""
            if spoken:
                sentences.append(spoken)
    return sentences


def build_language_model(task, data_dir, arpa_path, train_split="train", text_files=(),
                         vocabulary=(), order=3, tune_split="val", limit=None, search=None,
                         grid=LM_GRID, progress=None):
    """Give ``task`` a word n-gram language model, its weights tuned on a split.

    The model is estimated from ``train_split``'s transcripts (``None``: none) and the lines
    of ``text_files``, with the words of ``vocabulary`` at the unigram floor (e.g.
    :func:`lexicon.english_words`). Sentences that are also ``tune_split`` transcripts are
    left out, so the weights are not chosen on sentences the model has memorised. Then the
    ``grid`` is searched on ``tune_split`` (first ``limit`` utterances) with the search
    options ``search`` (default :data:`language_model.SEARCH`) and the best weights are
    attached (:meth:`SpeechTask.attach_language_model`; ``task.save`` then keeps them).
    Returns a report: sentences used and left out, lexicon size, the tune split's greedy and
    language-model error rates, the weights and the grid.

    Example:
        >>> report = build_language_model(task, "data/my_corpus", "runs/lm/lm.arpa",
        ...                               text_files=["domain_sentences.txt"])
        >>> task.save("runs/asr_with_lm")
    """
    from tasks.speech.language_model import SEARCH, arpa_words, write_arpa

    if not os.path.isdir(os.path.join(data_dir, tune_split)):
        raise ValueError(f"tune_split: {os.path.join(data_dir, tune_split)!r} is not a split "
                         "directory (LJSpeech layout)")
    alphabet = task.config["alphabet"]
    texts = [normalize_transcript(e["text"], alphabet) for e in read_split(data_dir, train_split)] \
        if train_split else []
    texts += text_file_sentences(text_files, alphabet)
    held = set(normalize_transcript(e["text"], alphabet) for e in read_split(data_dir, tune_split))
    kept = [t for t in texts if t and t not in held]
    if not kept:
        raise ValueError("no sentence is left to estimate the language model from: give a "
                         "train_split with transcripts or text_files (sentences that are also "
                         f"{tune_split!r} transcripts are left out)")
    write_arpa(kept, arpa_path, order, vocabulary)
    rows, references, greedy = split_log_probs(task, data_dir, tune_split, limit)
    search = dict(SEARCH if search is None else search)
    best, table = tune_language_model(task, arpa_path, rows, references, grid, search, progress)
    task.attach_language_model(arpa_path, *best, **search)
    tuned = next(r for r in table if (r["lm_weight"], r["word_score"]) == best)
    return {"sentences": len(kept), "left_out": len(texts) - len(kept), "order": order,
            "words": len(arpa_words(arpa_path)), "arpa_bytes": os.path.getsize(arpa_path),
            "tune_split": tune_split, "utterances": len(references),
            "greedy": error_rates(references, greedy),
            "language_model": {"wer": tuned["wer"], "cer": tuned["cer"]},
            "lm_weight": best[0], "word_score": best[1], **search, "grid": table}


def copy_notice(notice, task_dir):
    """Put a word list's copyright file beside a saved task's language model, as
    :data:`LM_NOTICE_FILE` (the list's licence asks that its notice travel with lists made
    from it); ``notice=None`` removes one left there by an earlier model."""
    target = os.path.join(task_dir, LM_NOTICE_FILE)
    if notice:
        shutil.copyfile(notice, target)
    elif os.path.exists(target):
        os.remove(target)
