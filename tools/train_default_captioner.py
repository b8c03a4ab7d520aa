"""Train the bundled default captioner on the built-in emoji-scenes benchmark.

    python tools/train_default_captioner.py            # full run (~40 min on 2 CPU cores)
    python tools/train_default_captioner.py --epochs 1 --steps-per-epoch 20 --sizes 200,20,20

Resumable: re-running continues from ``<work-dir>/checkpoints``. Writes the model
to ``tasks/captioning/weights/emoji_scenes_transformer`` and the measured quality
to ``benchmarks/results/captioning_default.json``.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

from tasks.captioning.benchmark import build_benchmark  # noqa: E402
from tasks.captioning.data import make_dataset, read_coco_captions  # noqa: E402
from tasks.captioning.presets import WEIGHTS_DIR  # noqa: E402
from tasks.captioning.recipe import train as train_recipe  # noqa: E402
from tasks.core.task import Task  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "emoji_scenes"))
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "default_captioner"))
    parser.add_argument("--output", default=os.path.join(WEIGHTS_DIR, "emoji_scenes_transformer"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "captioning_default.json"))
    parser.add_argument("--sizes", default="16000,500,1000", help="train,val,test image counts")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate-only", action="store_true",
                        help="skip training; score the model already at --output")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    sizes = dict(zip(("train", "val", "test"), map(int, args.sizes.split(","))))
    t0 = time.time()
    root = build_benchmark(args.data_dir, sizes=sizes, seed=args.seed)
    build_seconds = time.time() - t0
    train, val, test = (read_coco_captions(root, s) for s in ("train", "val", "test"))

    timing_path = os.path.join(args.work_dir, "train_seconds.json")
    if args.evaluate_only:
        task = Task.load(args.output)
    else:
        # The shared recipe (CLI and notebook use it too); checkpoints, logs and the
        # saved task go to the work dir, then the task is copied to the bundled place.
        task = train_recipe(root, args.work_dir, "transformer_small", args.epochs,
                            args.steps_per_epoch, args.batch_size, args.learning_rate,
                            os.path.join(args.work_dir, "checkpoints"), seed=args.seed,
                            verbose=2, checkpoint_every=250)
        with open(timing_path, "w") as f:
            json.dump({"train_seconds": round(task.training_seconds, 1)}, f)
        task.save(args.output)
    train_seconds = None
    if os.path.exists(timing_path):
        with open(timing_path) as f:
            train_seconds = json.load(f)["train_seconds"]

    results = {"train_seconds": train_seconds, "build_seconds": round(build_seconds, 1),
               "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
               "batch_size": args.batch_size, "sizes": sizes, "parameters": task.model.count_params()}
    for split, examples in (("val", val), ("test", test)):
        ds = make_dataset(examples, task.preprocessor, 64)
        for beam in (1, 3):
            r = task.evaluate(ds, beam_width=beam)
            results[f"{split}_beam{beam}"] = {k: round(v, 2) for k, v in r.items() if k != "captions"}
            print(split, "beam", beam, results[f"{split}_beam{beam}"], flush=True)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
