"""Translation's command-line verbs: translate, translate-po, and
train/evaluate/export/build-data translation."""

import json
import sys

from pipelines import cli


def _texts(args):
    """The texts to translate: arguments, or lines of stdin for ``-`` or no argument."""
    if args.text and args.text != ["-"]:
        return args.text
    if sys.stdin.isatty() and not args.text:
        raise cli.UsageError("text: give texts as arguments, or pipe lines to stdin")
    return [line.rstrip("\n") for line in sys.stdin]


def _translate(args):
    import pipelines

    texts = _texts(args)
    results = pipelines.translate(texts, model=args.model, beam_width=args.beam) if texts else []
    for text, result in zip(texts, results):
        print(json.dumps({"input": text, "translation": result}, ensure_ascii=False)
              if args.json else result, flush=True)


def _translate_po(args):
    from tasks.translation.gettext import fill_catalog

    report = fill_catalog(args.po, args.output or args.po, model=args.model, beam_width=args.beam)
    print(json.dumps(report))


def _train(args):
    from tasks.translation.recipe import read_files, train

    train_pairs = read_files(args.train) if args.train else None
    val_pairs = read_files(args.val) if args.val else None
    if args.data is None and train_pairs is None:
        raise cli.UsageError("give --data DIR (train.tsv/val.tsv) or --train FILE...")
    start_from = (cli.load_task("translate", args.continue_from, fresh=True,
                                argument="--continue-from") if args.continue_from else None)
    with cli.results_only_on_stdout():
        task = train(args.data, args.output, args.preset, args.epochs, args.steps_per_epoch,
                     args.batch_size, args.learning_rate, args.checkpoint_dir,
                     train_pairs=train_pairs, val_pairs=val_pairs,
                     vocabulary_size=args.vocabulary_size, seed=args.seed,
                     jit_compile={"auto": "auto", "on": True, "off": False}[args.jit],
                     verbose=cli.keras_verbosity(), task=start_from)
    print(json.dumps({"saved": args.output, "train_seconds": round(task.training_seconds, 1)}))


def _evaluate(args):
    from tasks.translation.recipe import evaluate_split

    task = cli.load_task("translate", args.model)
    result = evaluate_split(task, args.data, args.split, args.beam, args.limit)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()
                      if k != "translations"}))


def _build_data(args):
    from tasks.translation.corpus import build_corpus

    stats = build_corpus(args.output)["statistics"]
    print(json.dumps({k: stats[k]["pairs"] for k in ("train", "val", "test")}))


def register(commands):
    p = commands.inference("translate", "translate English text to French", _translate)
    p.add_argument("text", nargs="*", help="texts to translate; none or - reads lines from stdin")
    p.add_argument("--model", default=None, help="preset, saved task dir or exported SavedModel")
    p.add_argument("--beam", type=cli.positive_int, default=None, help="beam width (1 = greedy)")
    p.add_argument("--json", action="store_true", help="one JSON object per text")

    p = commands.inference("translate-po", "fill the empty msgstr entries of a .po file "
                           "(marked fuzzy; everything else kept byte for byte)", _translate_po)
    p.add_argument("po", help="the .po catalog")
    p.add_argument("--output", default=None, help="write here instead of in place")
    p.add_argument("--model", default=None)
    p.add_argument("--beam", type=cli.positive_int, default=None)

    p = commands.task_verb("train", "translation", "train a translator on parallel text", _train)
    p.add_argument("--data", default=None, help="a directory with train.tsv/val.tsv "
                   "(the built-in corpus layout, already cleaned)")
    p.add_argument("--train", nargs="+", default=None,
                   help="your own pairs: .tsv, .po/.mo, or SOURCE,TARGET Moses files (cleaned)")
    p.add_argument("--val", nargs="+", default=None, help="validation pairs, same forms")
    p.add_argument("--output", required=True, help="directory for the trained task")
    p.add_argument("--preset", default="transformer_small",
                   help="transformer, transformer_small, rnn_gru or rnn_lstm")
    p.add_argument("--continue-from", default=None, metavar="MODEL",
                   help="fine-tune a trained translator instead of starting from --preset: a "
                        "preset (debian_en_fr_transformer) or a saved task directory; its "
                        "vocabulary is kept")
    p.add_argument("--epochs", type=cli.positive_int, default=10)
    p.add_argument("--steps-per-epoch", type=cli.positive_int, default=1000)
    p.add_argument("--batch-size", type=cli.positive_int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--vocabulary-size", type=cli.positive_int, default=8000)
    p.add_argument("--checkpoint-dir", default=None,
                   help="resumable checkpoints (default: OUTPUT/checkpoints)")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--seed", type=int, default=0)

    p = commands.task_verb("evaluate", "translation", "BLEU, chrF and placeholder preservation",
                           _evaluate)
    p.add_argument("--data", required=True, help="directory with <split>.tsv")
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None)
    p.add_argument("--beam", type=cli.positive_int, default=None)
    p.add_argument("--limit", type=cli.positive_int, default=None, help="score only N pairs")

    p = commands.task_verb("export", "translation", "export a translator as a SavedModel",
                           cli.export_handler("translate"))
    p.add_argument("--output", required=True)
    p.add_argument("--model", default=None)

    p = commands.task_verb("build-data", "translation",
                           "build the English-French corpus from pinned Debian catalogs", _build_data)
    p.add_argument("--output", required=True)
