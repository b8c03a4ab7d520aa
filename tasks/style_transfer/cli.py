"""Style transfer's command-line verbs: stylize, and train/evaluate/export/build-data style."""

import json
import os

from pipelines import cli

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")


def _output_paths(inputs, output):
    """One output path per input: ``-o FILE`` for one input, ``-o DIR`` (made) for several."""
    if len(inputs) == 1 and os.path.splitext(output)[1]:
        return [output]
    os.makedirs(output, exist_ok=True)
    names = [os.path.splitext(os.path.basename(p))[0] for p in inputs]
    if len(set(names)) != len(names):
        names = [f"{i:04d}_{n}" for i, n in enumerate(names)]
    return [os.path.join(output, f"{n}.png") for n in names]


def _stylize(args):
    import pipelines

    inputs = cli.expand_inputs(args.images, IMAGE_EXTENSIONS, "images")
    outputs = _output_paths(inputs, args.output)
    style = args.style
    for source, target in zip(inputs, outputs):
        image = pipelines.stylize(source, style=style, strength=args.strength,
                                  method=args.method, size=args.size, steps=args.steps,
                                  model=args.model)
        image.save(target)
        print(json.dumps({"input": source, "output": target}) if args.json else target, flush=True)


def _train(args):
    from tasks.style_transfer.recipe import train, train_arbitrary

    content = (cli.expand_inputs(args.content, IMAGE_EXTENSIONS, "--content")
               if args.content else None)
    if args.teacher and args.arbitrary:
        raise cli.UsageError("--teacher distils a fast network for one style; it cannot go "
                             "with --arbitrary")
    if args.arbitrary == bool(args.style_image):
        raise cli.UsageError("pass --style-image PAINTING (a fast network for one style) or "
                             "--arbitrary (one network for any style), not both")
    with cli.results_only_on_stdout():
        if args.arbitrary:
            styles = (cli.expand_inputs(args.style_images, IMAGE_EXTENSIONS, "--style-images")
                      if args.style_images else None)
            task = train_arbitrary(args.data, args.output, args.epochs, args.steps_per_epoch,
                                   args.batch_size, args.learning_rate or 1e-3,
                                   args.checkpoint_dir, image_size=args.image_size,
                                   style_size=args.style_size, seed=args.seed,
                                   verbose=cli.keras_verbosity(), content_images=content,
                                   style_images=styles)
        else:
            start = None
            if args.continue_from:
                from tasks.core.task import Task

                start = Task.load(args.continue_from)
            task = train(args.data, args.output, args.style_image, args.preset, args.epochs,
                         args.steps_per_epoch, args.batch_size, args.learning_rate or 2e-3,
                         args.checkpoint_dir, image_size=args.image_size,
                         style_size=args.style_size, seed=args.seed,
                         verbose=cli.keras_verbosity(), content_images=content,
                         teacher=args.teacher, distill_weights=args.distill_weights, task=start)
    print(json.dumps({"saved": args.output, "train_seconds": round(task.training_seconds, 1)}))


def _evaluate(args):
    from tasks.style_transfer.arbitrary_task import ArbitraryStyleTask
    from tasks.style_transfer.evaluation import evaluate_against_optimization

    task = cli.load_task("stylize", args.model)
    if isinstance(task, ArbitraryStyleTask):
        if not args.style_image:
            raise cli.UsageError("--style-image is required for the arbitrary-style network")
        task = task.with_style(os.path.abspath(args.style_image))
    elif args.style_image:
        task.config["style_image"] = os.path.abspath(args.style_image)
    result = evaluate_against_optimization(task, args.data, size=args.size, limit=args.limit,
                                           steps=args.steps)
    print(json.dumps({k: v for k, v in result.items() if k != "per_image"}))


def _export(args):
    print(json.dumps({"exported": cli.load_task("stylize", args.model).export(args.output)}))


def _build_data(args):
    from tasks.style_transfer.data import build_style_data

    print(json.dumps(build_style_data(args.output)["counts"]))


def register(commands):
    p = commands.inference("stylize", "repaint images in the style of a painting", _stylize)
    p.add_argument("images", nargs="+", help="image files, directories, globs or - (paths on stdin)")
    p.add_argument("--style", default=None,
                   help="bundled style name (see 'pipelines list'), a trained style directory, "
                        "an exported SavedModel, or any style image (the arbitrary-style "
                        "network, or Gatys with --method optimize)")
    p.add_argument("-o", "--output", required=True,
                   help="output PNG for one input, or a directory (made) for several")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 blend with the input")
    p.add_argument("--model", default=None,
                   help="with a style image: your arbitrary-style network (a directory from "
                        "'train style --arbitrary', or its export) instead of the bundled one")
    p.add_argument("--method", choices=("fast", "optimize"), default="fast")
    p.add_argument("--size", type=cli.positive_int, default=None, help="longer side in pixels")
    p.add_argument("--steps", type=cli.positive_int, default=300,
                   help="optimisation steps for --method optimize")
    p.add_argument("--json", action="store_true", help="one JSON object per image")

    p = commands.task_verb("train", "style", "train a fast network for one style image, or "
                           "the arbitrary-style network (--arbitrary)", _train)
    p.add_argument("--style-image", default=None, help="the painting to imitate")
    p.add_argument("--arbitrary", action="store_true",
                   help="train the arbitrary-style (AdaIN) network on many paintings instead")
    p.add_argument("--style-images", nargs="+", default=None,
                   help="with --arbitrary: your paintings (files, directories or globs) instead "
                        "of the built-in ones")
    p.add_argument("--data", default="data/style",
                   help="built-in data directory (content/train photographs)")
    p.add_argument("--content", nargs="+", default=None,
                   help="your own content photographs (files, directories or globs) instead")
    p.add_argument("--output", required=True)
    p.add_argument("--preset", default="fast_small",
                   help="architecture of the fast network: fast_small (the small Johnson-style "
                        "network), johnson (Johnson et al.'s widths), fast_adain (the bundled "
                        "arbitrary network with your painting built in, trained further) or "
                        "slim (about 3.5x faster than the bundled networks; train it with "
                        "--teacher)")
    p.add_argument("--teacher", default=None,
                   help="a trained fast network for the same painting (a bundled style's "
                        "directory, e.g. tasks/style_transfer/weights/great_wave, or your own) "
                        "to distil: the new network learns its outputs")
    p.add_argument("--distill-weights", nargs=2, type=float, default=(1.0, 1.0),
                   metavar=("L1", "PERCEPTUAL"),
                   help="with --teacher: the weights of the L1 distance to the teacher's output "
                        "and of the perceptual loss (e.g. 1 0 first, then 1 1 with --continue-from)")
    p.add_argument("--continue-from", default=None,
                   help="a saved fast network to train further (its architecture; a fresh "
                        "schedule) instead of a new one from --preset")
    p.add_argument("--epochs", type=cli.positive_int, default=4)
    p.add_argument("--steps-per-epoch", type=cli.positive_int, default=500)
    p.add_argument("--batch-size", type=cli.positive_int, default=8)
    p.add_argument("--learning-rate", type=float, default=None,
                   help="default 2e-3 (fast network) or 1e-3 (--arbitrary)")
    p.add_argument("--image-size", type=cli.positive_int, default=128, help="training crop size")
    p.add_argument("--style-size", type=cli.positive_int, default=256,
                   help="shorter side of the painting for its style statistics")
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--seed", type=int, default=0)

    p = commands.task_verb("evaluate", "style",
                           "perceptual loss of the network against Gatys optimisation on "
                           "held-out photographs", _evaluate)
    p.add_argument("--model", default=None,
                   help="bundled style, 'arbitrary', or a trained style directory")
    p.add_argument("--data", default="data/style")
    p.add_argument("--style-image", default=None,
                   help="the painting, if not where it was trained (required for 'arbitrary')")
    p.add_argument("--size", type=cli.positive_int, default=512)
    p.add_argument("--limit", type=cli.positive_int, default=None)
    p.add_argument("--steps", type=cli.positive_int, default=300)

    p = commands.task_verb("export", "style", "export a style network as a SavedModel",
                           _export)
    p.add_argument("--model", default=None,
                   help="bundled style, 'arbitrary', or a trained style directory")
    p.add_argument("--output", required=True)

    p = commands.task_verb("build-data", "style",
                           "build the built-in paintings and photographs (Debian packages)",
                           _build_data)
    p.add_argument("--output", default="data/style")
