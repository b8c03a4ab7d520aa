"""Video's command-line verbs: build-data video (the Task's train/evaluate/export and
annotate-video come with it)."""

import argparse
import json

from pipelines import cli


def _sizes(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 0:
        raise argparse.ArgumentTypeError(
            f"--sizes must be three non-negative ints train,val,test; got {text!r}")
    return dict(zip(("train", "val", "test"), values))


def _build_data(args):
    from tasks.video.benchmark import build_benchmark

    root = build_benchmark(args.output, sizes=args.sizes, seed=args.seed,
                           frame_size=args.frame_size)
    print(json.dumps({"root": root}))


def register(commands):
    p = commands.task_verb("build-data", "video", "build the emoji-events video benchmark",
                           _build_data)
    p.add_argument("--output", required=True, help="folder to write (a complete build is reused)")
    p.add_argument("--sizes", type=_sizes, default="4000,200,400", help="train,val,test clips")
    p.add_argument("--frame-size", type=int, default=64, help="frame height and width in pixels")
    p.add_argument("--seed", type=int, default=0)
