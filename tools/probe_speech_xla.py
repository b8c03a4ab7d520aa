"""Probe XLA for single clips: each clip padded to a length bucket, against plain and unpadded.

    python tools/probe_speech_xla.py --data-dir data/speech_en15_part \\
        --model tasks/speech/weights/speech_en_bigru --model runs/head1/model

For the first ``--limit`` clips of ``test`` and ``test_natural`` and all of ``real``, runs each
model's network on the clip as it is (uncompiled) and padded to the next bucket of
``tasks.speech.task.CLIP_BUCKET_SECONDS`` (compiled with XLA; a bucket's first call, the
compile, is timed apart and left out), then prints: how many greedy transcripts agree, the
largest logit difference over the valid frames, the network's seconds per second of audio both
ways and each bucket's compile time. What it answered: whether a bucketed XLA path for single
clips was worth building (``SpeechTask.clip_logits`` now is one).
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def probe(task, audios):
    """One model over ``audios`` (16 kHz float arrays, each <= the largest bucket): a dict."""
    from tasks.core.audio import SAMPLE_RATE

    policy = task.clip_compile_policy()  # the buckets clip_logits pads to
    same, diffs, compiles = 0, [], {}
    plain = compiled = 0.0
    for n in (8000, 12000):  # the uncompiled function's traces (one per shape, then shapeless)
        task.logits(np.zeros((1, n), np.float32), np.array([n], np.int32))
    for audio in audios:
        key = policy.key(1, len(audio))
        if key is None:
            raise ValueError(f"a clip of {len(audio) / SAMPLE_RATE:.1f} s is longer than the "
                             f"largest bucket ({policy.buckets[-1] / SAMPLE_RATE:g} s)")
        bucket = key[1] / SAMPLE_RATE
        padded = np.zeros((1, key[1]), np.float32)
        padded[0, :len(audio)] = audio
        lengths = np.array([len(audio)], np.int32)
        start = time.perf_counter()
        unpadded = task.logits(audio[None], lengths)
        plain += time.perf_counter() - start
        if bucket not in compiles:
            start = time.perf_counter()
            task.logits(padded, lengths, jit_compile=True)
            compiles[bucket] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        xla = task.logits(padded, lengths, jit_compile=True)
        compiled += time.perf_counter() - start
        n = task.valid_frames(len(audio))
        diffs.append(float(np.abs(unpadded[0, :n] - xla[0, :n]).max()))
        same += task.decode_batch(unpadded[:, :n], 1) == task.decode_batch(xla[:, :n], 1)
    seconds = sum(len(a) for a in audios) / SAMPLE_RATE
    return {"clips": len(audios), "seconds": round(seconds, 1), "greedy_same": same,
            "max_logit_difference": float(f"{max(diffs):.2e}"),
            "network_rtf_plain": round(plain / seconds, 4),
            "network_rtf_xla_bucketed": round(compiled / seconds, 4),
            "compile_seconds_per_bucket": dict(sorted(compiles.items()))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="corpus root (<split>/metadata.csv)")
    parser.add_argument("--model", action="append", required=True, help="a saved speech task")
    parser.add_argument("--limit", type=int, default=60, help="first N of test, test_natural")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error(f"--limit: expected a positive count, got {args.limit}")

    from tasks.core.task import Task
    from tasks.speech.data import load_audio
    from tasks.speech.recipe import read_split

    examples = []
    for split, limit in (("test", args.limit), ("test_natural", args.limit), ("real", None)):
        examples += read_split(args.data_dir, split)[:limit]
    audios = [load_audio(e["audio"]) for e in examples]
    for path in args.model:
        print(path, probe(Task.load(path), audios), flush=True)


if __name__ == "__main__":
    main()
