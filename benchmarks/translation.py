"""Translation benchmark: training and translation speed, and Apertium side by side.
Prints one JSON object.

    python benchmarks/translation.py --data data/translation_fr \
        --output benchmarks/results/translation_speed.json --peer
    python benchmarks/translation.py --dtype-policy mixed_bfloat16 --peer \
        --output benchmarks/results/translation_speed_bfloat16.json
    python benchmarks/translation.py --data data/translation_fr --peer --intra-op-threads 1 \
        --output benchmarks/results/translation_speed_intra1.json
    python benchmarks/translation.py --quick     # seconds, on the committed fixtures; the tests

Measures training tokens/s (target tokens, the default architecture on length-bucketed
batches) with XLA on and off, the tf.data pipeline alone, translation sentences/s for
batches of 64 (``decode_workers`` of them in flight) and single-sentence latency p50/p95 (beam 4 and greedy), the same with the
decoding loop compiled by XLA (``jit_compile=True``, timed after its compilations), and, with
``--peer``, BLEU, chrF and sentences/s of Apertium (Debian ``apertium`` with
``apertium-eng-spa`` and ``apertium-fr-es``, English -> Spanish -> French) next to ours
on the same held-out sentences. Uses the bundled default model when present, or
``--model``.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HELDOUT = os.path.join(ROOT, "tests", "fixtures", "translation_heldout")
TINY_TRAIN = os.path.join(ROOT, "tests", "fixtures", "debian_en_fr_tiny")
TINY = {"architecture": "transformer", "source_length": 64, "target_length": 64,
        "options": {"hidden_dim": 32, "encoder_layers": 1, "decoder_layers": 1, "num_heads": 2,
                    "intermediate_dim": 64}}


def _load_task(quick, model, train_pairs):
    from tasks.core.task import Task
    from tasks.translation.task import TranslationTask

    if model:
        return (Task.load(model) if os.path.isfile(os.path.join(model, "task.json"))
                else TranslationTask.from_preset(model)), model
    path = TranslationTask.presets["debian_en_fr_transformer"]["path"]
    if not quick and os.path.exists(os.path.join(path, "task.json")):
        return Task.load(path), "debian_en_fr_transformer"
    return TranslationTask.from_pairs(train_pairs, 300, **TINY), "tiny (untrained)"


def _train_speed(task, pairs, jit, steps, batch_size, one_shape=False):
    """Target tokens/s through ``fit`` on bucketed batches padded to bucket boundaries
    (a handful of shapes, so XLA compiles once per bucket, in the warm-up). Tokens per
    step are the mean real (unpadded) target tokens of ``steps`` batches. ``one_shape``
    pads every batch to the longest length instead: one shape, one compilation."""
    import tensorflow as tf

    from tasks.translation.data import make_training_dataset
    from tasks.translation.task import TranslationTask

    task = TranslationTask(task.config)
    buckets = {"bucket_boundaries": ()} if one_shape else {}
    ds = make_training_dataset(pairs, task.preprocessor, batch_size, training=True, repeat=True,
                               fixed_shapes=True, **buckets)
    task.compile(total_steps=10 * steps, jit_compile=jit)
    task.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)  # trace and compile
    counted = sum(int(tf.math.count_nonzero(y)) for _, y in ds.take(steps))
    start = time.perf_counter()
    task.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return counted / (time.perf_counter() - start)


def _pipeline_speed(task, pairs, batches, batch_size):
    from tasks.translation.data import make_training_dataset

    ds = make_training_dataset(pairs, task.preprocessor, batch_size, training=True, repeat=True)
    it = iter(ds)
    for _ in range(batches):  # the first pass tokenises and caches
        next(it)
    start, count = time.perf_counter(), 0
    for _ in range(batches):
        count += int(next(it)[1].shape[0])
    return count / (time.perf_counter() - start)


def _latency_ms(task, sentences, beam, repeats):
    task.translate(sentences[:1], beam_width=beam)  # warm
    times = []
    for s in sentences[:repeats]:
        start = time.perf_counter()
        task.translate([s], beam_width=beam)
        times.append(1000 * (time.perf_counter() - start))
    return {"p50": round(float(np.percentile(times, 50)), 1),
            "p95": round(float(np.percentile(times, 95)), 1)}


def _batch_speed(task, sentences, beam, batch_size=64):
    """Sentences/s of one ``translate`` call over all ``sentences`` (length-sorted
    batches of ``batch_size``, as the library batches a list)."""
    task.translate(sentences[:batch_size], beam_width=beam, batch_size=batch_size)  # warm
    start = time.perf_counter()
    task.translate(sentences, beam_width=beam, batch_size=batch_size)
    return len(sentences) / (time.perf_counter() - start)


def apertium(sentences):
    """English -> Spanish -> French with Apertium; one output line per input line."""
    if not shutil.which("apertium"):
        raise RuntimeError("apertium is not installed: apt-get install apertium apertium-eng-spa "
                           "apertium-fr-es")
    text = "\n".join(s.replace("\n", " ") for s in sentences) + "\n"
    spanish = subprocess.run(["apertium", "-u", "eng-spa"], input=text, capture_output=True,
                             text=True, check=True).stdout
    french = subprocess.run(["apertium", "-u", "es-fr"], input=spanish, capture_output=True,
                            text=True, check=True).stdout
    lines = french.rstrip("\n").split("\n")
    if len(lines) != len(sentences):
        raise RuntimeError(f"apertium returned {len(lines)} lines for {len(sentences)}")
    return lines


def _peer(task, pairs):
    from tasks.core import metrics

    sources = [p["source"] for p in pairs]
    refs = [[p["target"] for p in pairs]]
    start = time.perf_counter()
    theirs = apertium(sources)
    their_time = time.perf_counter() - start
    start = time.perf_counter()
    ours = task.evaluate(pairs, beam_width=4)["translations"]
    our_time = time.perf_counter() - start
    score = lambda hyps: {  # noqa: E731
        "bleu": round(metrics.corpus_bleu(hyps, [[r] for r in refs[0]]), 2),
        "chrf": round(metrics.corpus_chrf(hyps, [[r] for r in refs[0]]), 2)}
    return {"sentences": len(pairs),
            "apertium": {**score(theirs), "sentences_per_s": round(len(pairs) / their_time, 1)},
            "ours_beam4": {**score(ours), "sentences_per_s": round(len(pairs) / our_time, 1)}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "translation_fr"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--peer", action="store_true", help="Apertium side by side")
    parser.add_argument("--limit", type=int, default=None, help="held-out pairs for --peer")
    parser.add_argument("--model", default=None, help="a saved task dir or preset")
    parser.add_argument("--dtype-policy", default="float32",
                        help="run everything under this Keras policy, e.g. mixed_bfloat16 "
                             "(the float32 weights rebuilt under it)")
    parser.add_argument("--skip-speed", action="store_true",
                        help="only the --peer comparison (e.g. while the machine is busy)")
    parser.add_argument("--output", default=None)
    parser.add_argument("--intra-op-threads", type=int, default=None,
                        help="threads per op (TensorFlow's default: one per core); 1 lets the "
                             "decode_workers batches in flight share the cores")
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.intra_op_threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)

    from tasks.translation.recipe import read_split

    quick = args.quick or not os.path.isdir(args.data)
    train = read_split(TINY_TRAIN if quick else args.data, "train")
    test = read_split(HELDOUT, "test")
    task, model_name = _load_task(quick, args.model, train)
    task = task.with_dtype_policy(args.dtype_policy)
    steps, batch = (2, 4) if quick else (20, 64)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, TF {tf.__version__}",
              "model": model_name, "parameters": task.model.count_params(),
              "dtype_policy": args.dtype_policy,
              "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
              "decode_workers": task.config["decode_workers"]}
    if not args.skip_speed:
        # --quick (the test suite) times the XLA step only: no other test compiles a training
        # step with XLA, and every other training test runs the plain one
        if not quick:
            result["train_tokens_per_s_jit_off"] = round(
                _train_speed(task, train, False, steps, batch), 1)
        # quick: one padded shape, so XLA compiles once
        result["train_tokens_per_s_jit_on"] = round(
            _train_speed(task, train, True, steps, batch, one_shape=quick), 1)
        result["tf_data_pairs_per_s"] = round(_pipeline_speed(task, train, 2 if quick else 50, batch), 1)
        sentences = [p["source"] for p in test[:512]]
        if quick:  # 8 short ones: one source-length bucket, so XLA compiles one search a size
            sentences = sorted(sentences[:64], key=len)[:8]
        for beam in (4, 1):
            result[f"batch64_sentences_per_s_beam{beam}"] = round(_batch_speed(task, sentences, beam), 1)
            result[f"latency_ms_beam{beam}"] = _latency_ms(task, sentences, beam, 4 if quick else 100)
        # the same with the decoding loop compiled by XLA (compilations happen in the warm-up)
        xla = type(task)(task.config, preprocessor=task.preprocessor, model=task.model,
                         jit_compile=True)
        # --quick compiles beam 4 only: each compilation of the search costs seconds
        for beam in (4,) if quick else (4, 1):
            _latency_ms(xla, sentences, beam, 4 if quick else 100)  # compile every bucket
            result[f"xla_latency_ms_beam{beam}"] = _latency_ms(xla, sentences, beam,
                                                               4 if quick else 100)
        result["xla_batch64_sentences_per_s_beam4"] = round(_batch_speed(xla, sentences, 4), 1)
    if args.peer:
        result["peer"] = _peer(task, test[: 8 if quick else args.limit])
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
