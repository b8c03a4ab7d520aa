"""Captioning's command-line verbs: caption, demo, and train/evaluate/export/build-data captioning."""

import glob
import json
import os

from pipelines import cli

IMAGE_TYPES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "pipelines", "samples")


def _caption(args):
    import pipelines

    images = cli.expand_inputs(args.images, IMAGE_TYPES, "images")
    captions = pipelines.caption(images, model=args.model, beam_width=args.beam)
    cli.print_results(images, captions, "caption", args.json)


def _demo(args):
    import pipelines

    images = sorted(glob.glob(os.path.join(SAMPLES, "*.jpg")))
    # the samples are emoji scenes: the emoji captioner's domain, not the photo default's
    for image, text in zip(images, pipelines.caption(images, model="emoji_scenes_transformer")):
        print(f"{os.path.basename(image)}: {text}")


def _train(args):
    from tasks.captioning.recipe import train

    with cli.results_only_on_stdout():
        train(args.data, args.output, args.preset, args.epochs, args.steps_per_epoch,
              args.batch_size, args.learning_rate, args.checkpoint_dir, args.train_split,
              args.val_split, args.seed, {"auto": "auto", "on": True, "off": False}[args.jit],
              verbose=cli.keras_verbosity())
    print(json.dumps({"saved": args.output}))


def _evaluate(args):
    from tasks.captioning.data import make_dataset, read_coco_captions

    task = cli.load_task("caption", args.model)
    examples = read_coco_captions(args.data, args.split)[: args.limit]
    result = task.evaluate(make_dataset(examples, task.preprocessor, 64), beam_width=args.beam)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                      for k, v in result.items() if k != "captions"}))


def _build_data(args):
    from tasks.captioning.benchmark import build_benchmark

    sizes = dict(zip(("train", "val", "test"), map(int, args.sizes.split(","))))
    print(json.dumps({"root": build_benchmark(args.output, sizes=sizes, seed=args.seed)}))


def register(commands):
    p = commands.inference("caption", "caption images", _caption)
    p.add_argument("images", nargs="+", help="image files, directories, glob patterns, or - (stdin)")
    p.add_argument("--model", default=None, help="preset, saved task dir or exported SavedModel")
    p.add_argument("--beam", type=cli.positive_int, default=None, help="beam width (1 = greedy)")
    p.add_argument("--json", action="store_true", help="one JSON object per image")

    commands.inference("demo", "caption the bundled sample emoji scenes with the emoji captioner", _demo)

    p = commands.task_verb("train", "captioning", "train a captioner on COCO-format data", _train)
    p.add_argument("--data", required=True, help="COCO-format root (annotations/captions_<split>.json)")
    p.add_argument("--output", required=True, help="directory for the trained task")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--preset", default="transformer_small")
    p.add_argument("--epochs", type=cli.positive_int, default=10)
    p.add_argument("--steps-per-epoch", type=cli.positive_int, default=1000)
    p.add_argument("--batch-size", type=cli.positive_int, default=64)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--checkpoint-dir", default=None,
                   help="resumable checkpoints (default: OUTPUT/checkpoints)")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--seed", type=int, default=0)

    p = commands.task_verb("evaluate", "captioning", "BLEU-4, CIDEr-D and exact match on a split",
                           _evaluate)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None)
    p.add_argument("--beam", type=cli.positive_int, default=None)
    p.add_argument("--limit", type=cli.positive_int, default=None, help="score only the first N images")

    p = commands.task_verb("export", "captioning", "export a captioner as a SavedModel",
                           cli.export_handler("caption"))
    p.add_argument("--output", required=True)
    p.add_argument("--model", default=None)

    p = commands.task_verb("build-data", "captioning", "build the emoji-scenes benchmark", _build_data)
    p.add_argument("--output", required=True)
    p.add_argument("--sizes", default="16000,500,1000", help="train,val,test images")
    p.add_argument("--seed", type=int, default=0)
