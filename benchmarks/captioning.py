"""Captioning speed benchmark: prints one JSON object.

    python benchmarks/captioning.py            # full measurement (~3 min on 2 CPU cores)
    python benchmarks/captioning.py --quick    # seconds; used by the test suite

Measures training examples/s with XLA on and off, the tf.data pipeline alone
(examples/s once cached), caption latency p50/p95 for one image (greedy and beam 3,
warm) and throughput for a batch of 32 of the emoji captioner (bundled, or untrained with
--quick); and, on scikit-image's labelled real photos, the bundled photo captioner beside the
emoji one: object named right, false claims, latency and batch throughput.
"""

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tasks.captioning.benchmark import build_benchmark  # noqa: E402
from tasks.captioning.data import make_dataset, read_coco_captions  # noqa: E402
from tasks.captioning.presets import presets  # noqa: E402
from tasks.captioning.task import CaptioningTask  # noqa: E402
from tasks.core.task import Task  # noqa: E402


def _real_photos(repeats):
    """The bundled captioners side by side on scikit-image's labelled real photos (#13): how
    often each names an object a photo holds or claims one on a photo holding none, and the
    photo captioner's speed."""
    import pipelines
    from tasks.captioning.photo_eval import caption_scores, skimage_photos

    photos = list(skimage_photos())
    names, pixels = [n for n, _, _ in photos], [p for _, p, _ in photos]
    expected = {n: c for n, _, c in photos}
    out = {"photos_with_object": sum(bool(c) for c in expected.values()),
           "photos_without_object": sum(not c for c in expected.values())}
    for model in ("photo_objects_ssd", "emoji_scenes_transformer"):
        captions = pipelines.caption(pixels, model=model)
        out[model] = caption_scores(dict(zip(names, captions)), expected)
    chelsea = pixels[names.index("chelsea")]
    times = []
    for _ in range(repeats + 1):  # the first call traces
        start = time.perf_counter()
        pipelines.caption(chelsea, model="photo_objects_ssd")
        times.append(time.perf_counter() - start)
    out["photo_objects_ssd_latency_ms"] = {"p50": round(1000 * float(np.median(times[1:])), 2),
                                           "p95": round(1000 * float(np.percentile(times[1:], 95)), 2)}
    batch = [chelsea] * 32  # a list: the pipeline stacks arrays of one shape
    pipelines.caption(batch, model="photo_objects_ssd")
    start = time.perf_counter()
    for _ in range(max(2, repeats // 10)):
        pipelines.caption(batch, model="photo_objects_ssd")
    out["photo_objects_ssd_batch32_images_per_s"] = round(
        32 * max(2, repeats // 10) / (time.perf_counter() - start), 1)
    return out


def _train_speed(examples, config, jit, steps, batch_size):
    task = CaptioningTask.from_examples(examples, **config)
    ds = make_dataset(examples, task.preprocessor, batch_size, training=True, repeat=True)
    task.compile(total_steps=steps * 2, jit_compile=jit)
    task.model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)  # trace, compile, fill cache
    start = time.perf_counter()
    task.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def _pipeline_speed(examples, task, batches, batch_size):
    ds = make_dataset(examples, task.preprocessor, batch_size, training=True, repeat=True)
    it = iter(ds)
    for _ in range(len(examples) * 5 // batch_size + 1):  # one full pass fills the cache
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batch_size / (time.perf_counter() - start)


def _latency(task, images, beam, repeats):
    task.caption(images[:1], beam_width=beam)  # warm: trace once
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        task.caption(images[i % len(images) : i % len(images) + 1], beam_width=beam)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _throughput(task, images, beam, repeats):
    batch = (images * 32)[:32]
    task.caption(batch, beam_width=beam)
    start = time.perf_counter()
    for _ in range(repeats):
        task.caption(batch, beam_width=beam)
    return 32 * repeats / (time.perf_counter() - start)


def _pipeline_throughput(task, batch, repeats):
    """``pipelines.caption`` over a list of 32 inputs (bytes or arrays), greedy."""
    import pipelines

    pipelines.caption(batch, model=task, beam_width=1)
    start = time.perf_counter()
    for _ in range(repeats):
        pipelines.caption(batch, model=task, beam_width=1)
    return len(batch) * repeats / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    q = args.quick
    steps, batches, repeats = (3, 5, 5) if q else (60, 200, 100)
    batch_size = 8 if q else 64
    config = dict(presets["transformer_small"]["config"])
    if q:
        config.update(image_size=48, encoder_widths=[8, 16],
                      decoder_options={"hidden_dim": 32, "num_layers": 1, "num_heads": 2,
                                       "intermediate_dim": 64})
    with tempfile.TemporaryDirectory() as tmp:
        root = build_benchmark(tmp, {"train": 64 if q else 1024, "val": 0, "test": 16}, seed=9,
                               progress=False)
        train, test = read_coco_captions(root, "train"), read_coco_captions(root, "test")
        images = [open(e["image"], "rb").read() for e in test]
        result = {"machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or
                              platform.machine(), "gpus": len(tf.config.list_physical_devices("GPU")),
                              "tensorflow": tf.__version__},
                  "quick": q, "batch_size": batch_size}
        # --quick (the test suite) times the XLA step only: no other test compiles a training
        # step with XLA, and every other training test runs the plain one
        for jit in (True,) if q else (False, True):
            result[f"train_examples_per_s_jit_{'on' if jit else 'off'}"] = round(
                _train_speed(train, config, jit, steps, batch_size), 1)
        default_path = presets["emoji_scenes_transformer"]["path"]
        use_default = not q and os.path.exists(os.path.join(default_path, "task.json"))
        task = Task.load(default_path) if use_default else CaptioningTask.from_examples(train, **config)
        result["model"] = "bundled default" if use_default else "untrained, same config"
        result["tf_data_examples_per_s"] = round(_pipeline_speed(train, task, batches, batch_size), 1)
        for beam in (1,) if q else (1, 3):  # --quick: one search graph to trace, not two
            p50, p95 = _latency(task, images, beam, repeats)
            result[f"latency_ms_beam{beam}"] = {"p50": round(p50, 2), "p95": round(p95, 2)}
            result[f"batch32_images_per_s_beam{beam}"] = round(
                _throughput(task, images, beam, max(2, repeats // 10)), 1)
        from PIL import Image

        jpegs = (images * 32)[:32]
        arrays = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in jpegs]
        result["pipeline_batch32_images_per_s_beam1"] = {
            kind: round(_pipeline_throughput(task, batch, max(2, repeats // 10)), 1)
            for kind, batch in (("jpeg_bytes", jpegs), ("uint8_arrays", arrays))}
        if not q:  # tests/test_photo_captioner.py checks the photo captioner on these photos
            result["real_photos"] = _real_photos(repeats)
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return result


if __name__ == "__main__":
    main()
