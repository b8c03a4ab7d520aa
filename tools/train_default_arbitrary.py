"""Train the bundled arbitrary-style (AdaIN) network on the built-in style data.

    python tools/train_default_arbitrary.py                    # train (resumable), save, score
    python tools/train_default_arbitrary.py --evaluate-only    # score the bundled network
    python tools/train_default_arbitrary.py --continue --image-size 256 --batch-size 4 \
        --work-dir runs/arb2 --output runs/arb2/model --results runs/arb2/results.json --seed 1
        # train the bundled network further (copy it over only if it scores better)

Builds the data if needed (``data/style``). Trains in ``runs/default_arbitrary`` (resumable
from its checkpoints; each run's time is added to ``train_seconds.json`` there) on the
training photographs and every painting but ``data.HELD_OUT_STYLES``, saves to
``tasks/style_transfer/weights/arbitrary``, and scores it against Gatys optimisation at
``--size``² on held-out photographs, for paintings it never saw and for bundled styles
(``benchmarks/results/style_arbitrary.json``). With ``--continue`` the bundled network trains
further on a fresh schedule and data order (``--seed``), at this run's crop size; its results
then carry the earlier runs' times, settings and scores.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tasks.core.task import Task  # noqa: E402
from tasks.core.training import continued_training, record_training_seconds  # noqa: E402
from tasks.style_transfer.data import HELD_OUT_STYLES, build_style_data, style_images  # noqa: E402
from tasks.style_transfer.evaluation import evaluate_against_optimization  # noqa: E402
from tasks.style_transfer.presets import ARBITRARY_DIR, BUNDLED_STYLES  # noqa: E402
from tasks.style_transfer.recipe import train_arbitrary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "style"))
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "default_arbitrary"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "style_arbitrary.json"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--style-size", type=int, default=256)
    parser.add_argument("--size", type=int, default=512, help="evaluation image size")
    parser.add_argument("--limit", type=int, default=2, help="held-out photographs to score")
    parser.add_argument("--steps", type=int, default=300, help="Gatys steps in the evaluation")
    parser.add_argument("--score-styles", nargs="+",
                        default=[HELD_OUT_STYLES[0], HELD_OUT_STYLES[1], BUNDLED_STYLES["great_wave"]],
                        help="paintings to score (names in data/style/styles)")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--continue", dest="continue_", action="store_true",
                        help="train the bundled network further instead of a new one")
    parser.add_argument("--earlier-results", default=os.path.join(ROOT, "benchmarks", "results",
                                                                  "style_arbitrary.json"),
                        help="with --continue: the results of the bundled network")
    parser.add_argument("--output", default=ARBITRARY_DIR, help="where the network is saved")
    parser.add_argument("--seed", type=int, default=0, help="data order and initialisation")
    args = parser.parse_args(argv)
    if args.continue_ and args.evaluate_only:
        parser.error("--continue trains; it cannot go with --evaluate-only")

    build_style_data(args.data_dir)
    paintings = style_images(args.data_dir)
    unknown = sorted(set(args.score_styles) - set(paintings))
    if unknown:
        raise SystemExit(f"--score-styles: {unknown} are not paintings of {args.data_dir}")
    if args.evaluate_only:
        task = Task.load(args.output)
    else:
        start = Task.load(ARBITRARY_DIR) if args.continue_ else None
        task = train_arbitrary(args.data_dir, args.work_dir, args.epochs, args.steps_per_epoch,
                               args.batch_size, args.learning_rate, image_size=args.image_size,
                               style_size=args.style_size, seed=args.seed, task=start, verbose=2)
        record_training_seconds(args.work_dir, task.training_seconds)
        task.save(args.output)
    runs = record_training_seconds(args.work_dir)
    training = {"epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
                "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                "seed": args.seed}
    if args.continue_:  # the bundled network's own training comes first
        runs, training = continued_training(
            args.earlier_results, os.path.relpath(ARBITRARY_DIR, ROOT), runs, training,
            keep=lambda key: key in ("unseen_loss_ratio", "config"), config_key="training")
    results = {"train_seconds": round(sum(runs), 1), "train_runs_seconds": runs,
               "parameters": task.model.count_params(),
               "trainable_parameters": sum(int(w.shape.num_elements() or 0)
                                           for w in task.model.trainable_weights),
               "config": {k: task.config[k] for k in ("image_size", "style_size", "widths",
                                                      "loss_weights")},
               "training": training,
               "held_out_styles": list(HELD_OUT_STYLES), "styles": {}}
    for name in args.score_styles:
        scored = evaluate_against_optimization(task.with_style(paintings[name]), args.data_dir,
                                               args.size, args.limit, args.steps)
        results["styles"][name] = {
            "seen_in_training": name not in HELD_OUT_STYLES,
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in scored.items()}}
        print(name, {k: v for k, v in results["styles"][name].items() if k != "per_image"},
              flush=True)
    unseen = [v["loss_ratio"] for v in results["styles"].values() if not v["seen_in_training"]]
    if unseen:
        results["unseen_loss_ratio"] = round(sum(unseen) / len(unseen), 4)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps({k: v for k, v in results.items() if k != "styles"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
