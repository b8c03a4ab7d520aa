"""Style-transfer benchmark: training speed, stylisation speed per size, the speed-up over
Gatys optimisation, and peak memory on a large image. Prints one JSON object.

    python benchmarks/style.py --data data/style --output benchmarks/results/style_speed.json
    python benchmarks/style.py --quick      # seconds, on generated images; the tests
    python benchmarks/style.py --dtype-policy mixed_bfloat16 \
        --output benchmarks/results/style_speed_bfloat16.json

Measures, for the bundled default fast network (``great_wave``; an untrained network of
the same architecture with ``--quick`` or when it is missing): training images/s (crops
of 128² in batches of 8, the default recipe), frames/s at 256², 512² and 1024² (one image
per call, after a warm-up), the seconds Gatys optimisation (300 steps, the bundled loss
network) takes at 256² and so the speed-up of the fast network, and the peak resident
memory of a process that stylises one 2048² image (measured in a child process, beside
the same process's memory after loading the network), and the same for a 4096² image, which
goes through in cross-faded tiles of 2048².

The same figures (but memory) for the slim network distilled from the default one
(``great_wave_slim``, ``weights/slim/great_wave``; untrained with ``--quick`` or when missing), with its training
speed when distilled (256² crops in batches of 8), under ``"slim"``; and for the arbitrary-style network (``arbitrary``; untrained with
``--quick`` or when missing), with the style image at its ``style_size``, under
``"arbitrary"``.

``--dtype-policy mixed_bfloat16`` runs both networks' stylisation (not training, the Gatys
reference or the fresh-process memory figures, which stay float32) in bfloat16 arithmetic on
their float32 weights, and records how far its
256² output lies from the float32 network's (``max_abs_diff_vs_float32``, pixels in 0..1).
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


def _photo(height, width, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x * y) % 256], -1)
    return (base + rng.integers(0, 40, base.shape)).clip(0, 255).astype(np.uint8)


def _task(quick, style_image):
    from tasks.core.task import Task
    from tasks.style_transfer.task import StyleTransferTask

    path = StyleTransferTask.presets["great_wave"]["path"]
    if not quick and os.path.exists(os.path.join(path, "task.json")):
        return Task.load(path, style_image=style_image), "great_wave"
    return StyleTransferTask(style_image=style_image), "untrained (default architecture)"


def _diff_vs_float32(task, size, *inputs):
    """Largest and mean absolute pixel difference between ``task`` and its float32 self."""
    import tensorflow as tf

    pixels = tf.constant(_photo(size, size, 5)[None].astype(np.float32) / 255.0)
    outputs = [t._compiled()(pixels, *inputs, tf.constant(1.0)).numpy()
               for t in (task, task.with_dtype_policy("float32"))]
    diff = np.abs(outputs[0].astype(np.float64) - outputs[1])
    return {"max_abs_diff_vs_float32": round(float(diff.max()), 4),
            "mean_abs_diff_vs_float32": round(float(diff.mean()), 5)}


def _fps(task, size, min_seconds):
    import tensorflow as tf

    pixels = tf.constant(_photo(size, size)[None].astype(np.float32) / 255.0)
    run = task._compiled()
    strength = tf.constant(1.0)
    run(pixels, strength).numpy()  # trace and warm up
    count, start = 0, time.perf_counter()
    while count < 2 or time.perf_counter() - start < min_seconds:
        run(pixels, strength).numpy()
        count += 1
    return count / (time.perf_counter() - start)


def _train_speed(task, paths, steps, image_size, batch_size, style_paths=None):
    from tasks.style_transfer.data import make_dataset, make_pair_dataset

    if style_paths:
        ds = make_pair_dataset(paths, style_paths, image_size, batch_size,
                               style_side=2 * image_size, cache_side=2 * image_size)
    else:
        ds = make_dataset(paths, image_size, batch_size, seed=0,
                          cache_side=max(image_size, 2 * image_size))
    task.compile(learning_rate=1e-3, total_steps=steps * 2)
    task.model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)  # trace, fill the cache
    start = time.perf_counter()
    task.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def _arbitrary(quick, style_image, paths, sizes, gatys_seconds, train_size, batch,
               policy="float32"):
    """The arbitrary network's figures: frames/s per size, speed-up, training images/s."""
    import tensorflow as tf

    from tasks.core.task import Task
    from tasks.style_transfer.arbitrary_task import ArbitraryStyleTask
    from tasks.style_transfer.presets import ARBITRARY_DIR
    from tasks.style_transfer.task import load_style_image

    if not quick and os.path.exists(os.path.join(ARBITRARY_DIR, "task.json")):
        task, which = Task.load(ARBITRARY_DIR), "arbitrary"
    else:
        task, which = ArbitraryStyleTask(), "untrained (default architecture)"
    task = task.with_dtype_policy(policy)
    style = load_style_image(style_image, task.config["style_size"])[None]
    run, strength = task._compiled(), tf.constant(1.0)
    fps = {}
    for size in sizes:
        pixels = tf.constant(_photo(size, size)[None].astype(np.float32) / 255.0)
        run(pixels, style, strength).numpy()  # trace and warm up
        count, start = 0, time.perf_counter()
        while count < 2 or time.perf_counter() - start < (0.5 if quick else 5.0):
            run(pixels, style, strength).numpy()
            count += 1
        fps[f"fps_{size}"] = round(count / (time.perf_counter() - start), 2)
    train_ips = _train_speed(ArbitraryStyleTask(), paths, 3 if quick else 20, train_size, batch,
                             style_paths=[style_image])
    return {"model": which, "parameters": task.model.count_params(),
            "train_images_per_s": round(train_ips, 2), **fps,
            "speedup_over_gatys": round(gatys_seconds * fps[f"fps_{sizes[0]}"], 1),
            **(_diff_vs_float32(task, sizes[0], style) if policy != "float32" else {})}


def _slim(quick, style_image, paths, sizes, gatys_seconds, teacher, policy="float32"):
    """The slim network's figures (``great_wave_slim``; the untrained ``slim``
    preset with ``--quick`` or when missing): frames/s per size, the speed-up over Gatys, and
    training images/s when distilled from ``teacher`` (a saved task) with the perceptual loss
    too (256² crops in batches of 8, the recipe's)."""
    from tasks.core.task import Task
    from tasks.style_transfer.presets import SLIM_DIR
    from tasks.style_transfer.task import StyleTransferTask

    path = os.path.join(SLIM_DIR, "great_wave")
    if not quick and os.path.exists(os.path.join(path, "task.json")):
        task, which = Task.load(path, style_image=style_image), "great_wave_slim"
    else:
        task = StyleTransferTask(StyleTransferTask.presets["slim"]["config"],
                                 style_image=style_image)
        which = "untrained (slim preset)"
    task = task.with_dtype_policy(policy)
    fps = {f"fps_{s}": round(_fps(task, s, 0.5 if quick else 5.0), 2) for s in sizes}
    student = StyleTransferTask(StyleTransferTask.presets["slim"]["config"],
                                style_image=style_image, teacher=teacher,
                                **({"style_size": 64} if quick else {}))
    train_size, batch = (64, 2) if quick else (256, 8)
    train_ips = _train_speed(student, paths, 3 if quick else 20, train_size, batch)
    return {"model": which, "parameters": task.model.count_params(),
            "distill_images_per_s": round(train_ips, 2), "distill_crop": train_size,
            "distill_batch": batch, **fps,
            "speedup_over_gatys": round(gatys_seconds * fps[f"fps_{sizes[0]}"], 1)}


_MEMORY_CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from tasks.core.memory import peak_rss_mb
from tasks.core.task import Task
from tasks.style_transfer.task import StyleTransferTask
task = Task.load(sys.argv[2]) if sys.argv[2] != "-" else StyleTransferTask()
task.stylize([np.zeros((64, 64, 3), np.uint8)])
loaded = peak_rss_mb()
for size, tile in zip(map(int, sys.argv[3::2]), map(int, sys.argv[4::2])):
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    start = time.perf_counter()
    out = task.stylize([image], tile=tile, overlap=min(128, tile // 4))[0]
    seconds = time.perf_counter() - start
    print(loaded, peak_rss_mb(), seconds, out.shape[0], out.shape[1])
"""


def _peak_memory(model_path, *runs):
    """Stylise one random image per ``(size, tile)`` of ``runs`` in one child process and report
    its peak memory after each (a peak is the child's highest so far: the full benchmark gives
    each figure a process of its own)."""
    args = [str(v) for run in runs for v in run]
    result = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, ROOT, model_path or "-", *args],
                            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    lines = result.stdout.strip().splitlines()[-len(runs):]
    figures = []
    for (size, tile), line in zip(runs, lines):
        loaded, peak, seconds, height, width = line.split()
        figures.append({"size": size, "tile": tile, "rss_after_load_mb": round(float(loaded), 1),
                        "peak_rss_mb": round(float(peak), 1), "seconds": round(float(seconds), 2),
                        "output": [int(height), int(width)]})
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "style"))
    parser.add_argument("--output", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dtype-policy", default="float32",
                        help="stylise under this Keras policy, e.g. mixed_bfloat16 (the float32 "
                             "weights rebuilt under it); training and Gatys stay float32")
    args = parser.parse_args(argv)

    from PIL import Image

    from tasks.style_transfer.optimize import optimize_image

    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            style_image = os.path.join(tmp, "style.png")
            Image.fromarray(255 - _photo(96, 96, 1)).save(style_image)
            paths = []
            for i in range(3):
                paths.append(os.path.join(tmp, f"photo{i}.jpg"))
                Image.fromarray(_photo(160, 200, i)).save(paths[-1])
        else:
            from tasks.style_transfer.data import build_style_data, style_images, train_images
            from tasks.style_transfer.presets import BUNDLED_STYLES

            build_style_data(args.data)
            style_image, paths = style_images(args.data)[BUNDLED_STYLES["great_wave"]], train_images(args.data)
        reference, which = _task(args.quick, style_image)
        task = reference.with_dtype_policy(args.dtype_policy)
        sizes = (64, 128) if args.quick else (256, 512, 1024)
        fps = {f"fps_{s}": round(_fps(task, s, 0.5 if args.quick else 5.0), 2) for s in sizes}
        gatys_size, gatys_steps = (64, 5) if args.quick else (256, 300)
        content = _photo(gatys_size, gatys_size, 3).astype(np.float32) / 255.0
        loss = reference.perceptual_loss()  # the float32 loss network, whatever the policy
        optimized = optimize_image(content, None, loss.extractor, loss, steps=gatys_steps,
                                   progress=False)
        fast_seconds = 1.0 / fps[f"fps_{sizes[0]}"] if args.quick else 1.0 / fps["fps_256"]
        train_size, batch = (64, 2) if args.quick else (128, 8)
        train_ips = _train_speed(_task(True, style_image)[0], paths, 3 if args.quick else 20,
                                 train_size, batch)
        model_path = None if args.quick or which.startswith("untrained") else \
            task.presets["great_wave"]["path"]
        # above the tile size: cross-faded tiles keep the peak near the one-tile figure.
        # --quick (the tests) checks both paths in one child: one TensorFlow start, not two
        if args.quick:
            memory, tiled = _peak_memory(model_path, (256, 2048), (320, 128))
        else:
            (memory,) = _peak_memory(model_path, (2048, 2048))
            (tiled,) = _peak_memory(model_path, (4096, 2048))
        arbitrary = _arbitrary(args.quick, style_image, paths, sizes, optimized.seconds,
                               train_size, batch, args.dtype_policy)
        agreement = (_diff_vs_float32(task, sizes[0]) if args.dtype_policy != "float32"
                     else {})
        teacher = os.path.join(tmp, "teacher")
        reference.save(teacher)
        slim = _slim(args.quick, style_image, paths, sizes, optimized.seconds, teacher,
                     args.dtype_policy)
    result = {
        "model": which, "parameters": task.model.count_params(),
        "dtype_policy": args.dtype_policy, **agreement,
        "train_images_per_s": round(train_ips, 2), "train_crop": train_size, "train_batch": batch,
        **fps,
        "gatys_seconds": round(optimized.seconds, 2), "gatys_size": gatys_size,
        "gatys_steps": gatys_steps,
        "speedup_over_gatys": round(optimized.seconds / fast_seconds, 1),
        "large_image": memory,
        "tiled_image": tiled,
        "arbitrary": arbitrary,
        "slim": slim,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
