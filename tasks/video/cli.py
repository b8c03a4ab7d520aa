"""Video's command-line verbs: annotate-video, and train/evaluate/export/build-data video."""

import argparse
import json
import os

from pipelines import cli

VIDEO_TYPES = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v")


def _sizes(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 0:
        raise argparse.ArgumentTypeError(
            f"--sizes must be three non-negative ints train,val,test; got {text!r}")
    return dict(zip(("train", "val", "test"), values))


def _render_path(render, video, count):
    if count == 1:
        return render
    os.makedirs(render, exist_ok=True)
    return os.path.join(render, os.path.splitext(os.path.basename(video))[0] + ".annotated.mp4")


def _annotate(args):
    import pipelines

    videos = cli.expand_inputs(args.videos, VIDEO_TYPES, "videos")
    for video in videos:
        result = pipelines.annotate_video(video, model=args.model, fps=args.fps,
                                          max_frames=args.max_frames, beam_width=args.beam)
        if args.render:
            from tasks.video.render import render_annotations

            result["rendered"] = render_annotations(video, result,
                                                    _render_path(args.render, video, len(videos)))
        if args.json:
            print(json.dumps({"input": video, **result}), flush=True)
        else:
            segments = ", ".join(f"{s['label']} {s['start']:.2f}-{s['end']:.2f}s"
                                 for s in result["segments"])
            print(f"{video}: {result['caption']} [{segments}]", flush=True)


def _train(args):
    from tasks.video.recipe import train

    with cli.results_only_on_stdout():
        train(args.data, args.output, args.preset, args.epochs, args.steps_per_epoch,
              args.batch_size, args.learning_rate, args.checkpoint_dir, args.train_split,
              args.val_split, args.seed, {"auto": "auto", "on": True, "off": False}[args.jit],
              verbose=cli.keras_verbosity(), limit=args.limit)
    print(json.dumps({"saved": args.output}))


def _evaluate(args):
    from tasks.video.benchmark import read_benchmark
    from tasks.video.data import make_dataset

    task = cli.load_task("annotate_video", args.model)
    examples = read_benchmark(args.data, args.split)[: args.limit]
    c = task.config
    result = task.evaluate(make_dataset(examples, task.preprocessor, 32, fps=c["fps"],
                                        max_frames=c["max_frames"]), beam_width=args.beam)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                      for k, v in result.items() if k != "captions"}))


def _build_data(args):
    from tasks.video.benchmark import build_benchmark

    root = build_benchmark(args.output, sizes=args.sizes, seed=args.seed,
                           frame_size=args.frame_size)
    print(json.dumps({"root": root}))


def register(commands):
    p = commands.inference("annotate-video", "label every frame of videos and caption them",
                           _annotate)
    p.add_argument("videos", nargs="+", help="video files, directories, glob patterns, or - (stdin)")
    p.add_argument("--model", default=None, help="preset, saved task dir or exported SavedModel")
    p.add_argument("--fps", type=float, default=None, help="frames per second to annotate at")
    p.add_argument("--max-frames", type=cli.positive_int, default=None)
    p.add_argument("--beam", type=cli.positive_int, default=None, help="beam width (1 = greedy)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per video (caption, frames, segments, windows)")
    p.add_argument("--render", default=None, metavar="OUT.mp4",
                   help="write a copy with the labels and caption burned in (a folder for "
                        "several videos)")

    p = commands.task_verb("train", "video", "train an annotator on data in the benchmark layout",
                           _train)
    p.add_argument("--data", required=True,
                   help="root with videos/<split>/ and annotations/{captions,segments}_<split>.*")
    p.add_argument("--output", required=True, help="directory for the trained task")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val")
    p.add_argument("--preset", default="bigru")
    p.add_argument("--epochs", type=cli.positive_int, default=16)
    p.add_argument("--steps-per-epoch", type=cli.positive_int, default=250)
    p.add_argument("--batch-size", type=cli.positive_int, default=16)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--limit", type=cli.positive_int, default=None, help="use the first N clips")
    p.add_argument("--checkpoint-dir", default=None,
                   help="resumable checkpoints (default: OUTPUT/checkpoints)")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--seed", type=int, default=0)

    p = commands.task_verb("evaluate", "video",
                           "frame accuracy, segment F1, BLEU-4 and CIDEr-D on a split", _evaluate)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None)
    p.add_argument("--beam", type=cli.positive_int, default=None)
    p.add_argument("--limit", type=cli.positive_int, default=None, help="score only the first N clips")

    p = commands.task_verb("export", "video", "export an annotator as a SavedModel",
                           cli.export_handler("annotate_video"))
    p.add_argument("--output", required=True)
    p.add_argument("--model", default=None)

    p = commands.task_verb("build-data", "video", "build the emoji-events video benchmark",
                           _build_data)
    p.add_argument("--output", required=True, help="folder to write (a complete build is reused)")
    p.add_argument("--sizes", type=_sizes, default="4000,200,400", help="train,val,test clips")
    p.add_argument("--frame-size", type=int, default=64, help="frame height and width in pixels")
    p.add_argument("--seed", type=int, default=0)
