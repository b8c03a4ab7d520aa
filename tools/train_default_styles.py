"""Train the bundled fast style networks on the built-in style data.

    python tools/train_default_styles.py                       # every bundled style
    python tools/train_default_styles.py --styles great_wave   # one
    python tools/train_default_styles.py --evaluate-only       # score the bundled networks
    python tools/train_default_styles.py --styles great_wave --continue --work-dir runs/wave2 \
        --output-dir runs/wave2/weights --results runs/wave2/results.json --seed 1
        # train the bundled network further (copy it over only if it scores better)
    python tools/train_default_styles.py --preset slim --image-size 256 --batch-size 8 \
        --epochs 2 --distill-epochs 2 --learning-rate 1e-3 --output-dir tasks/style_transfer/weights/slim \
        --work-dir runs/slim_style --results benchmarks/results/style_slim.json
        # slim networks distilled from the bundled ones (the teacher of each style)

Builds the data if needed (``data/style``). Each style trains in ``runs/default_style/<name>``
(resumable from its checkpoints; the time of each run is added to ``train_seconds.json``
there), is saved to ``tasks/style_transfer/weights/<name>`` (or ``--output-dir``), and is
scored against Gatys optimisation on held-out photographs at ``--size``²
(``benchmarks/results/style_default.json``). With ``--continue`` each bundled network trains
further on a fresh schedule and data order (``--seed``); its results then carry the earlier
runs' times, settings and scores.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tasks.core.task import Task  # noqa: E402
from tasks.core.training import continued_training, record_training_seconds  # noqa: E402
from tasks.style_transfer.data import build_style_data, style_images  # noqa: E402
from tasks.style_transfer.evaluation import evaluate_against_optimization  # noqa: E402
from tasks.style_transfer.presets import ARBITRARY_DIR, BUNDLED_STYLES, WEIGHTS_DIR  # noqa: E402
from tasks.style_transfer.recipe import train  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "style"))
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "default_style"))
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results",
                                                          "style_default.json"))
    parser.add_argument("--styles", nargs="+", default=list(BUNDLED_STYLES),
                        choices=list(BUNDLED_STYLES))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--style-size", type=int, default=256)
    parser.add_argument("--size", type=int, default=512, help="evaluation image size")
    parser.add_argument("--limit", type=int, default=4, help="held-out photographs to score")
    parser.add_argument("--steps", type=int, default=300, help="Gatys steps in the evaluation")
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--continue", dest="continue_", action="store_true",
                        help="train each bundled network further instead of a new one")
    parser.add_argument("--earlier-results", default=os.path.join(ROOT, "benchmarks", "results",
                                                                  "style_default.json"),
                        help="with --continue: the results of the bundled networks")
    parser.add_argument("--output-dir", default=WEIGHTS_DIR,
                        help="where each trained network is saved, as <output-dir>/<name>")
    parser.add_argument("--seed", type=int, default=0, help="data order and initialisation")
    parser.add_argument("--preset", default="fast_small",
                        help="architecture of a new network (fast_small, johnson, fast_adain)")
    parser.add_argument("--teacher-dir", default=WEIGHTS_DIR,
                        help="with --preset slim: the teacher of each style is <teacher-dir>/<name>")
    parser.add_argument("--distill-epochs", type=int, default=2,
                        help="with --preset slim: epochs on the L1 distance to the teacher alone "
                             "before --epochs with the perceptual loss added")
    parser.add_argument("--arbitrary", default=None,
                        help="with --preset fast_adain: the arbitrary network to start from "
                             "(default the bundled one)")
    args = parser.parse_args(argv)
    if args.continue_ and args.evaluate_only:
        parser.error("--continue trains; it cannot go with --evaluate-only")

    build_style_data(args.data_dir)
    paintings = style_images(args.data_dir)
    results, earlier_results = {}, {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            results = json.load(f)
    if args.continue_:
        with open(args.earlier_results) as f:
            earlier_results = json.load(f)
    for name in args.styles:
        work = os.path.join(args.work_dir, name)
        output = os.path.join(args.output_dir, name)
        earlier = earlier_results.get(name) if args.continue_ else None
        if args.continue_ and earlier is None:
            raise ValueError(f"--continue: {args.earlier_results} holds no results for {name!r}")
        if args.evaluate_only:
            task = Task.load(output, style_image=paintings[BUNDLED_STYLES[name]])
        else:
            start = (Task.load(os.path.join(WEIGHTS_DIR, name)) if args.continue_ else None)
            common = dict(steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
                          learning_rate=args.learning_rate, image_size=args.image_size,
                          style_size=args.style_size, style_name=name, seed=args.seed, verbose=2)
            teacher = os.path.join(args.teacher_dir, name) if args.preset == "slim" else None
            if teacher and start is None and args.distill_epochs:
                # first the teacher's pixels alone (cheap: no loss network), then its loss too
                start = train(args.data_dir, os.path.join(work, "distill_l1"),
                              paintings[BUNDLED_STYLES[name]], epochs=args.distill_epochs,
                              preset=args.preset, teacher=teacher, distill_weights=(1.0, 0.0),
                              **common)
                record_training_seconds(work, start.training_seconds)
            task = train(args.data_dir, work, paintings[BUNDLED_STYLES[name]], epochs=args.epochs,
                         task=start, preset=args.preset, arbitrary=args.arbitrary,
                         teacher=teacher, **common)
            record_training_seconds(work, task.training_seconds)
            # the bundled copy must not point at this machine's data directory or teacher
            task.config.update(style_image=None, teacher=None)
            task.save(output)
            task.config["style_image"] = paintings[BUNDLED_STYLES[name]]
        runs = record_training_seconds(work)
        training = {"epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
                    "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                    "seed": args.seed}
        if task.config["architecture"] == "adain" and not args.evaluate_only \
                and not args.continue_:
            training["started_from"] = os.path.relpath(args.arbitrary or ARBITRARY_DIR, ROOT)
        if args.preset == "slim" and not args.evaluate_only:
            training.update(distilled_from=os.path.relpath(teacher, ROOT),
                            distill_l1_epochs=0 if args.continue_ else args.distill_epochs)
        architecture = {"adain": ("widths", "border"),
                        "slim": ("slim_widths", "residual_blocks", "block_norms")}.get(
                            task.config["architecture"], ("filters", "residual_blocks"))
        if earlier is not None:  # the bundled network's own training comes first
            runs, training = continued_training(
                earlier, os.path.relpath(os.path.join(WEIGHTS_DIR, name), ROOT), runs, training,
                keep=lambda key: key in ("loss_ratio", "fast_loss", "optimized_loss"),
                config_key="training")
        scored = evaluate_against_optimization(task, args.data_dir, args.size, args.limit,
                                               args.steps)
        results[name] = {"painting": BUNDLED_STYLES[name], "train_seconds": round(sum(runs), 1),
                         "train_runs_seconds": runs, "parameters": task.model.count_params(),
                         "config": {k: task.config[k] for k in ("architecture", "image_size",
                                                                "style_size", "loss_weights",
                                                                *architecture)},
                         "training": training,
                         **{k: (round(v, 4) if isinstance(v, float) else v)
                            for k, v in scored.items()}}
        print(name, {k: v for k, v in results[name].items() if k != "per_image"}, flush=True)
        os.makedirs(os.path.dirname(args.results), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
