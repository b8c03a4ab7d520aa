"""The ``pipelines`` command line.

    pipelines caption IMG [IMG ...] [--beam N] [--json] [--model M]
    pipelines demo
    pipelines build-data captioning --output DIR [--sizes 16000,500,1000]
    pipelines build-data speech --output DIR [--sizes 30000,1000,1000,500]
    pipelines build-data translation --output DIR
    pipelines train captioning --data DIR --output DIR [--epochs N ...]
    pipelines evaluate captioning --data DIR [--split test] [--model M] [--beam N]
    pipelines export captioning --output DIR [--model M]
"""

import argparse
import glob
import json
import os
import sys

SAMPLES = os.path.join(os.path.dirname(__file__), "samples")


def _positive(value):
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return n


def _add_task(parser, choices=("captioning",)):
    parser.add_argument("task", choices=list(choices), help="which task")


def _parser():
    parser = argparse.ArgumentParser(prog="pipelines", description="Applied deep-learning pipelines")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("caption", help="caption images")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--model", default=None, help="preset, saved task dir or exported SavedModel")
    p.add_argument("--beam", type=_positive, default=None, help="beam width (1 = greedy)")
    p.add_argument("--json", action="store_true", help="print JSON lines {image, caption}")

    sub.add_parser("demo", help="caption the bundled sample images with the default model")

    p = sub.add_parser("build-data", help="build the built-in data for a task")
    _add_task(p, ("captioning", "speech", "translation"))
    p.add_argument("--output", required=True)
    p.add_argument("--sizes", default=None,
                   help="captioning: train,val,test images (16000,500,1000); speech: "
                        "train,val,test,test_natural utterances (30000,1000,1000,500)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("train", help="train a task on COCO-format data")
    _add_task(p)
    p.add_argument("--data", required=True, help="COCO-format root (annotations/captions_<split>.json)")
    p.add_argument("--output", required=True, help="directory for the trained task")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--preset", default="transformer_small")
    p.add_argument("--epochs", type=_positive, default=10)
    p.add_argument("--steps-per-epoch", type=_positive, default=1000)
    p.add_argument("--batch-size", type=_positive, default=64)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--checkpoint-dir", default=None, help="resumable checkpoints (default: OUTPUT/checkpoints)")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("evaluate", help="BLEU-4, CIDEr-D and exact match on a split")
    _add_task(p)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None)
    p.add_argument("--beam", type=_positive, default=None)
    p.add_argument("--limit", type=_positive, default=None, help="score only the first N images")

    p = sub.add_parser("export", help="write a TF Serving SavedModel")
    _add_task(p)
    p.add_argument("--output", required=True)
    p.add_argument("--model", default=None)
    return parser


def _task(model):
    from pipelines.models import MODELS

    task = MODELS.get("caption", model)
    if not hasattr(task, "export"):
        raise SystemExit("error: --model must be a preset or a saved task directory here")
    return task


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command in ("caption", "demo"):
        import pipelines

        images = args.images if args.command == "caption" else sorted(glob.glob(os.path.join(SAMPLES, "*.jpg")))
        model = getattr(args, "model", None)
        try:
            captions = pipelines.caption(list(images), model=model, beam_width=getattr(args, "beam", None))
        except (ValueError, TypeError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for image, text in zip(images, captions):
            if getattr(args, "json", False):
                print(json.dumps({"image": image, "caption": text}))
            else:
                print(f"{os.path.basename(image)}: {text}")
        return 0
    if args.command == "build-data" and args.task == "speech":
        from tasks.speech.corpus import DEFAULT_SIZES, build_corpus as build_speech

        sizes = (dict(zip(DEFAULT_SIZES, map(int, args.sizes.split(",")))) if args.sizes
                 else DEFAULT_SIZES)
        manifest = build_speech(args.output, sizes, args.seed)
        print(json.dumps({"counts": manifest["counts"], "hours": manifest["hours"]}))
        return 0
    if args.command == "build-data" and args.task == "translation":
        from tasks.translation.corpus import build_corpus

        stats = build_corpus(args.output)["statistics"]
        print(json.dumps({k: stats[k]["pairs"] for k in ("train", "val", "test")}))
        return 0
    if args.command == "build-data":
        from tasks.captioning.benchmark import build_benchmark

        sizes = dict(zip(("train", "val", "test"), map(int, (args.sizes or "16000,500,1000").split(","))))
        print(build_benchmark(args.output, sizes=sizes, seed=args.seed))
        return 0
    if args.command == "train":
        import keras

        from tasks.captioning.data import make_dataset, read_coco_captions
        from tasks.captioning.task import CaptioningTask

        keras.utils.set_random_seed(args.seed)
        train = read_coco_captions(args.data, args.train_split)
        val_path = os.path.join(args.data, "annotations", f"captions_{args.val_split}.json")
        val = read_coco_captions(args.data, args.val_split) if os.path.exists(val_path) else None
        task = CaptioningTask.from_examples(train, **CaptioningTask.presets[args.preset]["config"])
        train_ds = make_dataset(train, task.preprocessor, args.batch_size, training=True,
                                seed=args.seed, repeat=True)
        val_ds = val and make_dataset(val, task.preprocessor, args.batch_size, training=True,
                                      shuffle_buffer=0)
        jit = {"auto": "auto", "on": True, "off": False}[args.jit]
        task.compile(learning_rate=args.learning_rate,
                     total_steps=args.epochs * args.steps_per_epoch, jit_compile=jit)
        task.fit(train_ds, validation_data=val_ds, epochs=args.epochs,
                 steps_per_epoch=args.steps_per_epoch,
                 checkpoint_dir=args.checkpoint_dir or os.path.join(args.output, "checkpoints"),
                 log_dir=os.path.join(args.output, "logs"))
        task.save(args.output)
        print(f"saved to {args.output}")
        return 0
    if args.command == "evaluate":
        from tasks.captioning.data import make_dataset, read_coco_captions

        task = _task(args.model)
        examples = read_coco_captions(args.data, args.split)[: args.limit]
        result = task.evaluate(make_dataset(examples, task.preprocessor, 64), beam_width=args.beam)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                          for k, v in result.items() if k != "captions"}))
        return 0
    if args.command == "export":
        print(_task(args.model).export(args.output))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
