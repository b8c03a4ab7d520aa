"""Measure the word n-gram language model in CTC beam search on the built-in corpus.

    python tools/eval_speech_lm.py                       # bundled model, corpus at data/speech_en

Builds the language model from the training split's transcripts only (the held-out splits'
sentences are never in it), its lexicon widened by an English word list (Debian
``wamerican``, at the unigram floor; ``--lexicon none`` for the transcripts' words alone),
tunes ``lm_weight`` and ``word_score`` on ``val``, then scores greedy decoding and the
language-model search on ``test``, ``test_natural`` and ``real`` with the same acoustic
logits. Writes ``benchmarks/results/speech_lm.json``.

``--attach DIR`` then gives the saved task at ``DIR`` (the bundled model's directory for the
default) the language model with the tuned weights: ``lm.arpa`` beside its model and the
``language_model`` entry of its ``task.json``; the network's files are left as they are.
"""

import argparse
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tasks.speech.language_model import SEARCH, WordDecoder, write_arpa  # noqa: E402
from tasks.speech.lexicon import english_words, word_list_notice  # noqa: E402
from tasks.speech.presets import DEFAULT_PRESET  # noqa: E402
from tasks.speech.recipe import (LM_NOTICE_FILE, copy_notice, error_rates, read_split,  # noqa: E402
                                 split_log_probs, tune_language_model)
from tasks.speech.task import SpeechTask  # noqa: E402

SPLITS = ("val", "test", "test_natural", "real")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "speech_en"))
    parser.add_argument("--model", default=DEFAULT_PRESET, help="preset name or saved task")
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--beam-size", type=int, default=SEARCH["beam_size"])
    parser.add_argument("--beam-threshold", type=float, default=SEARCH["beam_threshold"])
    parser.add_argument("--beam-size-token", type=int, default=SEARCH["beam_size_token"],
                        help="characters tried per frame (0: every one)")
    parser.add_argument("--arpa", default=os.path.join(ROOT, "runs", "speech_lm", "lm.arpa"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "speech_lm.json"))
    parser.add_argument("--limit", type=int, default=None, help="utterances per split")
    parser.add_argument("--also-first", type=int, default=None, metavar="N",
                        help="also score the first N of each split (the utterances "
                             "benchmarks/speech.py --peer --limit N gives PocketSphinx)")
    parser.add_argument("--lexicon", choices=("wamerican", "none"), default="wamerican",
                        help="words added to the transcripts' at the unigram floor")
    parser.add_argument("--attach", default=None, metavar="DIR",
                        help="give the saved task at DIR this language model, tuned weights")
    args = parser.parse_args(argv)
    search = {"beam_size": args.beam_size, "beam_threshold": args.beam_threshold,
              "beam_size_token": args.beam_size_token or None}

    texts = [e["text"] for e in read_split(args.data_dir, "train")]
    cache = os.path.join(args.data_dir, "cache")
    vocabulary = english_words(cache) if args.lexicon == "wamerican" else []
    notice = word_list_notice(cache) if vocabulary else None
    start = time.time()
    write_arpa(texts, args.arpa, args.order, vocabulary)
    results = {"order": args.order, "train_sentences": len(texts), "lexicon": args.lexicon,
               "lexicon_words": len(set(vocabulary) | {w for t in texts for w in t.split()}),
               "arpa_bytes": os.path.getsize(args.arpa),
               "build_seconds": round(time.time() - start, 1), **search}
    task = (SpeechTask.load(args.model) if os.path.isdir(args.model)
            else SpeechTask.from_preset(args.model))
    data = {}
    for split in SPLITS:
        start = time.time()
        data[split] = split_log_probs(task, args.data_dir, split, args.limit)
        print(split, len(data[split][1]), "utterances,", f"{time.time() - start:.0f} s",
              file=sys.stderr, flush=True)

    rows, refs, greedy = data["val"]
    best, results["val_grid"] = tune_language_model(
        task, args.arpa, rows, refs, search=search,
        progress=lambda row: print("val", row, file=sys.stderr, flush=True))
    results["lm_weight"], results["word_score"] = best
    decoder = WordDecoder(args.arpa, task.config["alphabet"], *best, **search)
    for split in SPLITS:
        rows, refs, greedy = data[split]
        start = time.time()
        hyps = [decoder.decode_with_path(row)[0] for row in rows]
        seconds = time.time() - start
        results[split] = {"utterances": len(refs), "greedy": error_rates(refs, greedy),
                          "word_lm": error_rates(refs, hyps),
                          "lm_seconds_per_utterance": round(seconds / len(refs), 4),
                          "examples": [{"reference": r, "greedy": g, "word_lm": h}
                                       for r, g, h in list(zip(refs, greedy, hyps))[:5]]}
        if args.also_first:
            n = args.also_first
            results[split][f"first_{n}"] = {
                "utterances": len(refs[:n]), "greedy": error_rates(refs[:n], greedy[:n]),
                "word_lm": error_rates(refs[:n], hyps[:n])}
        print(split, results[split]["greedy"], "->", results[split]["word_lm"], flush=True)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    if args.attach:
        attach(args.attach, args.arpa, *best, search, notice)


NOTICE_FILE = LM_NOTICE_FILE


def attach(task_dir, arpa, lm_weight, word_score, search, notice=None):
    """Give a saved speech task a language model without rewriting its network's files:
    ``search`` is its search options (``WordDecoder``'s beam_size, beam_threshold and
    beam_size_token); ``notice``, the copyright file of a word list in its lexicon, goes
    beside it."""
    meta_path = os.path.join(task_dir, "task.json")
    with open(meta_path) as f:
        meta = json.load(f)
    if meta.get("task") != "speech":
        raise ValueError(f"task_dir must hold a saved speech task, got {meta.get('task')!r}")
    shutil.copyfile(arpa, os.path.join(task_dir, SpeechTask.LANGUAGE_MODEL_FILE))
    copy_notice(notice, task_dir)
    meta["config"]["language_model"] = {"file": SpeechTask.LANGUAGE_MODEL_FILE,
                                        "lm_weight": lm_weight, "word_score": word_score,
                                        **search}
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
