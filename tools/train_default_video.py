"""Train the bundled default video annotator on the built-in emoji-events benchmark.

    python tools/train_default_video.py                 # full run (see README for its time)
    python tools/train_default_video.py --epochs 1 --steps-per-epoch 10 --sizes 40,8,8

Resumable: re-running continues from ``<work-dir>/checkpoints``. Writes the model to
``tasks/video/weights/emoji_events_bigru`` and the measured quality on the held-out test
split to ``benchmarks/results/video_default.json``.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tasks.core.task import Task  # noqa: E402
from tasks.video.benchmark import build_benchmark, read_benchmark  # noqa: E402
from tasks.video.data import make_dataset  # noqa: E402
from tasks.video.presets import WEIGHTS_DIR  # noqa: E402
from tasks.video.recipe import train as train_recipe  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "video"))
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "default_video"))
    parser.add_argument("--output", default=os.path.join(WEIGHTS_DIR, "emoji_events_bigru"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "video_default.json"))
    parser.add_argument("--sizes", default="24000,200,400", help="train,val,test clip counts")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--steps-per-epoch", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="skip training; score the model already at --output")
    args = parser.parse_args(argv)

    sizes = dict(zip(("train", "val", "test"), map(int, args.sizes.split(","))))
    t0 = time.time()
    root = build_benchmark(args.data_dir, sizes=sizes, seed=args.seed)
    build_seconds = time.time() - t0
    timing_path = os.path.join(args.work_dir, "train_seconds.json")
    if args.evaluate_only:
        task = Task.load(args.output)
    else:
        task = train_recipe(root, args.work_dir, "bigru", args.epochs, args.steps_per_epoch,
                            args.batch_size, args.learning_rate,
                            os.path.join(args.work_dir, "checkpoints"), seed=args.seed, verbose=2)
        os.makedirs(args.work_dir, exist_ok=True)
        with open(timing_path, "w") as f:
            json.dump({"train_seconds": round(task.training_seconds, 1)}, f)
        task.save(args.output)
    train_seconds = None
    if os.path.exists(timing_path):
        with open(timing_path) as f:
            train_seconds = json.load(f)["train_seconds"]
    results = {"train_seconds": train_seconds, "build_seconds": round(build_seconds, 1),
               "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
               "batch_size": args.batch_size, "sizes": sizes,
               "parameters": task.model.count_params()}
    c = task.config
    for split in ("val", "test"):
        ds = make_dataset(read_benchmark(root, split), task.preprocessor, 32, fps=c["fps"],
                          max_frames=c["max_frames"])
        for beam in (1, 3):
            r = task.evaluate(ds, beam_width=beam)
            results[f"{split}_beam{beam}"] = {k: round(v, 3) for k, v in r.items() if k != "captions"}
            print(split, "beam", beam, results[f"{split}_beam{beam}"], flush=True)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
