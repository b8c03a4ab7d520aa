"""Video benchmark: training and annotation speed, decoding speed, memory on a long video.
Prints one JSON object.

    python benchmarks/video.py --data data/video --output benchmarks/results/video_speed.json
    python benchmarks/video.py --quick                # seconds, tiny build and tiny model; the tests
    python benchmarks/video.py --long-video F.mp4     # annotate one file; frames, time, peak memory

Measures training clips/s through ``fit`` (the default architecture, batches of 16 clips of
32 frames), PyAV decoding frames/s of the benchmark's clips, annotation frames/s of
``pipelines.annotate_video`` on a warm model (one clip at a time, and a batch of clips
through the graph), and the peak memory of a fresh process annotating a long generated
video. Uses the bundled default model when present.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

TINY = {"frame_size": 32, "frame_widths": [8, 16], "feature_dim": 32,
        "temporal_options": {"hidden_dim": 32}, "decoder_options": {"hidden_dim": 48, "embedding_dim": 16}}


def long_video(path, model=None):
    """Annotate one file in this process; report frames, wall time and peak memory."""
    import pipelines

    start = time.perf_counter()
    result = pipelines.annotate_video(path, model=model)
    from tasks.core.memory import peak_rss_mb

    peak_mb = peak_rss_mb()
    return {"frames": len(result["frames"]), "windows": len(result["windows"]),
            "seconds": round(time.perf_counter() - start, 2), "peak_rss_mb": round(peak_mb)}


def long_video_child(path, model=None):
    """:func:`long_video` in a fresh process, so its peak memory is the call's alone."""
    cmd = [sys.executable, os.path.abspath(__file__), "--long-video", path]
    if model:
        cmd += ["--model", model]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def write_long_video(path, clips, seconds, fps=8, size=None):
    """Concatenate decoded clips (repeated, resized to ``size`` if given) into a
    ``seconds``-long video, streamed."""
    from tasks.video.io import read_video, write_video

    frames = [read_video(c["path"], size=size)[0] for c in clips]

    def stream():
        total = 0
        while total < seconds * fps:
            for clip in frames:
                for frame in clip:
                    yield frame
                    total += 1
                    if total >= seconds * fps:
                        return

    return write_video(path, stream(), fps)


def _train_speed(task, examples, steps, batch_size):
    from tasks.video.data import make_dataset

    ds = make_dataset(examples, task.preprocessor, batch_size, training=True, repeat=True)
    task.compile(total_steps=steps + 2, jit_compile=False)
    task.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)  # trace and fill the cache
    start = time.perf_counter()
    task.fit(ds.skip(2), epochs=1, steps_per_epoch=steps, verbose=0)
    return round(steps * batch_size / (time.perf_counter() - start), 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "video"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--long-seconds", type=int, default=1800)
    parser.add_argument("--long-video", default=None, help="annotate this file and report memory")
    parser.add_argument("--model", default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.long_video:
        print(json.dumps(long_video(args.long_video, args.model)))
        return 0

    import tensorflow as tf

    import pipelines
    from tasks.core.task import Task
    from tasks.video.benchmark import build_benchmark, read_benchmark
    from tasks.video.io import read_video
    from tasks.video.presets import presets
    from tasks.video.task import VideoTask

    quick = args.quick
    work = tempfile.mkdtemp(prefix="video_bench_")
    root = (build_benchmark(os.path.join(work, "events"), sizes={"train": 8, "val": 0, "test": 8},
                            progress=False) if quick else args.data)
    train, test = read_benchmark(root, "train"), read_benchmark(root, "test")
    default = presets["emoji_events_bigru"]["path"]
    use_default = not quick and os.path.exists(os.path.join(default, "task.json"))
    result = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "tensorflow": tf.__version__},
              "model": "emoji_events_bigru" if use_default else "tiny (untrained)"}
    # Training speed: a fresh network of the default architecture (tiny under --quick).
    fresh = VideoTask.from_examples(train, **(TINY if quick else {}))
    result["train_clips_per_s"] = _train_speed(fresh, train, 3 if quick else 20, 4 if quick else 16)
    # Decoding: PyAV, 64x64 clips at their native 8 fps.
    clips = test[: 8 if quick else 100]
    start = time.perf_counter()
    decoded = sum(len(read_video(c["path"])[0]) for c in clips)
    result["decode_frames_per_s"] = round(decoded / (time.perf_counter() - start), 1)
    # Annotation: the pipeline, one clip at a time (decoding included), after a warm-up.
    task = Task.load(default) if use_default else VideoTask.from_examples(train, **TINY)
    pipelines.annotate_video(clips[0]["path"], model=task)
    start = time.perf_counter()
    frames = sum(len(pipelines.annotate_video(c["path"], model=task)["frames"]) for c in clips)
    result["annotate_frames_per_s"] = round(frames / (time.perf_counter() - start), 1)
    # The graph alone on a batch of 16 decoded clips (greedy and beam 3).
    batch = np.stack([read_video(c["path"])[0] for c in (clips * 16)[:16]])
    lengths = tf.fill([16], batch.shape[1])
    for beam in (1, 3):
        run = task._compiled(beam, None, True)
        run(tf.constant(batch), lengths)
        start = time.perf_counter()
        run(tf.constant(batch), lengths)
        result[f"batch16_frames_per_s_beam{beam}"] = round(batch.size / batch[0, 0].size
                                                           / (time.perf_counter() - start), 1)
    # Memory: a long video annotated in a fresh process, window by window. Not under --quick
    # (the tests): tests/test_video_pipeline.py runs the same child on two long videos
    if not quick:
        path = write_long_video(os.path.join(work, "long.mp4"), clips, args.long_seconds)
        saved = task.save(os.path.join(work, "task"))
        result["long_video"] = {"video_seconds": args.long_seconds, **long_video_child(path, saved)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
