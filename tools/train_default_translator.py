"""Train the bundled default translator on the built-in English->French corpus.

    python tools/train_default_translator.py                  # build the corpus if needed, train, score
    python tools/train_default_translator.py --evaluate-only  # score the model at --output

    python tools/train_default_translator.py --epochs 13 --data-dir data/translation_fr_v1 --corpus-version 1
    python tools/train_default_translator.py --continue-from tasks/translation/weights/debian_en_fr_transformer \
        --work-dir runs/translation_more --output runs/translation_more/model \
        --results runs/translation_more/results.json --epochs 20 --learning-rate 6e-4 --seed 5

(the bundled model's two training stages: from scratch on corpus version 1, then continued
on version 2).

Resumable: re-running continues from ``<work-dir>/checkpoints`` (the vocabulary is kept
in ``<work-dir>/vocabulary.json``) and adds the time of each run to
``<work-dir>/train_seconds.json``. Writes the model to
``tasks/translation/weights/debian_en_fr_transformer`` and the measured quality on the
held-out packages to ``benchmarks/results/translation_default.json``.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tasks.core.task import Task  # noqa: E402
from tasks.core.training import continued_training, record_training_seconds  # noqa: E402
from tasks.translation.corpus import VERSION as CORPUS_VERSION, build_corpus  # noqa: E402
from tasks.translation.presets import WEIGHTS_DIR  # noqa: E402
from tasks.translation.recipe import evaluate_split, train  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "translation_fr"))
    parser.add_argument("--corpus-version", type=int, default=CORPUS_VERSION,
                        help="the corpus version to build at --data-dir when it is missing "
                             "(1: the bundled model's first training stage)")
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "default_translation"))
    parser.add_argument("--output", default=os.path.join(WEIGHTS_DIR, "debian_en_fr_transformer"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "translation_default.json"))
    parser.add_argument("--preset", default="transformer")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--steps-per-epoch", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="score only N test pairs")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="skip training; score the model already at --output")
    parser.add_argument("--continue-from", default=None,
                        help="a saved translation task to train further (weights and vocabulary "
                             "kept, new schedule); the training time in --earlier-results is "
                             "added to this run's")
    parser.add_argument("--keep-decoder-blocks", default=None,
                        help="with --continue-from: keep only these decoder blocks, e.g. '0' "
                             "(a shallower, faster student started from the model)")
    parser.add_argument("--earlier-results", default=os.path.join(
        ROOT, "benchmarks", "results", "translation_default.json"),
        help="with --continue-from: the results of the model it continues")
    args = parser.parse_args(argv)

    if not os.path.exists(os.path.join(args.data_dir, "manifest.json")):
        build_corpus(args.data_dir, version=args.corpus_version)
    if args.evaluate_only:
        task = Task.load(args.output)
    else:
        start_from = Task.load(args.continue_from) if args.continue_from else None
        if args.keep_decoder_blocks:
            if start_from is None:
                parser.error("--keep-decoder-blocks needs --continue-from")
            start_from = start_from.with_decoder_layers(args.keep_decoder_blocks.split(","))
        task = train(args.data_dir, args.work_dir, preset=args.preset, epochs=args.epochs,
                     steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, vocabulary_size=args.vocabulary_size,
                     seed=args.seed, verbose=2, task=start_from)
        record_training_seconds(args.work_dir, task.training_seconds)
        task.save(args.output)
    runs = record_training_seconds(args.work_dir)
    if not runs and args.evaluate_only and os.path.exists(args.results):
        # scoring again without the training runs' folder: keep the recorded times
        with open(args.results) as f:
            runs = json.load(f).get("train_runs_seconds") or []
    config = {"preset": args.preset, "epochs": args.epochs,
              "steps_per_epoch": args.steps_per_epoch, "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "vocabulary_size": args.vocabulary_size}
    if args.keep_decoder_blocks:
        config["keep_decoder_blocks"] = args.keep_decoder_blocks
    if args.continue_from:  # the model's earlier training, which this run continues
        runs, config = continued_training(args.earlier_results, args.continue_from, runs, config,
                                          keep=lambda key: key.startswith("test_"))
    results = {"train_seconds": round(sum(runs), 1), "train_runs_seconds": runs,
               "parameters": task.model.count_params(), "config": config}
    results["decoding"] = {k: task.config[k] for k in ("constrain_placeholders", "length_penalty",
                                                      "segment_words")}
    for beam in (1, 4):
        r = evaluate_split(task, args.data_dir, "test", beam_width=beam, limit=args.limit)
        results[f"test_beam{beam}"] = {k: (round(v, 2) if isinstance(v, float) else v)
                                       for k, v in r.items() if k != "translations"}
        print(f"test beam {beam}", results[f"test_beam{beam}"], flush=True)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
