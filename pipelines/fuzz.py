"""Seeded fuzzing of the pipelines' input contract.

Every pipeline promises that any input gives either a valid result or a
``ValueError``/``TypeError`` whose message names the argument: never another
exception, never a hang. This module generates hostile inputs from valid samples
(bit flips, truncations at every structural boundary of JPEG/PNG/RIFF files, spliced
garbage, wrong magic numbers, huge sizes declared in headers, random bytes) and from
nothing (arrays of every dtype, rank and shape with NaN/inf; strings with any Unicode;
wrong types), calls the pipeline on each and reports every broken promise.

The same harness runs a few hundred cases per pipeline in the tests and long runs
from the command line:

    python -m pipelines.fuzz caption --cases 10000 --seed 0
    python -m pipelines.fuzz transcribe translate stylize --cases 2000 --json
    python -m pipelines.fuzz translate --cases 10000 --workers 2 --json   # both cores

A long run can be split: ``--cases 5000`` runs the first half of the 10,000-case sequence,
``--cases 10000 --start 5000`` the second, and ``--merge part1.json part2.json`` adds the
parts' ``--json`` outputs into the report of the whole.

Example:
    >>> report = run("caption", 200, seed=0)
    >>> report["violations"]
    []
"""

import argparse
import concurrent.futures
import glob
import json
import os
import struct
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGUMENT = {"caption": "image", "transcribe": "audio", "translate": "text", "stylize": "image",
            "annotate_video": "video",
            # the style argument of stylize: hostile style images for the arbitrary network
            "stylize_style": "style"}
MAGICS = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF", b"GIF89a", b"BM", b"fLaC",
          b"OggS", b"ID3", b"%PDF", b"\x00\x00\x00\x00"]


# -- structure of the formats we mutate ------------------------------------------------
def boundaries(data):
    """Offsets where a file's structure changes: JPEG markers, PNG and RIFF chunks."""
    cuts = {0, 1, 2, 4, 8, 12, 16, len(data) // 2, len(data) - 1}
    if data[:2] == b"\xff\xd8":  # JPEG: every 0xFF marker (not 0xFF00 stuffing)
        cuts.update(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] not in (0, 0xFF))
    elif data[:8] == b"\x89PNG\r\n\x1a\n":  # PNG: length | type | data | crc
        pos = 8
        while pos + 8 <= len(data):
            cuts.update((pos, pos + 4, pos + 8))
            pos += 12 + struct.unpack(">I", data[pos:pos + 4])[0]
    elif data[:4] == b"RIFF":  # WAV: RIFF header, then id | size | payload chunks
        pos = 12
        while pos + 8 <= len(data):
            cuts.update((pos, pos + 4, pos + 8))
            pos += 8 + struct.unpack("<I", data[pos + 4:pos + 8])[0]
    elif data[4:8] == b"ftyp":  # MP4: size | type | payload boxes
        pos = 0
        while pos + 8 <= len(data):
            size = struct.unpack(">I", data[pos:pos + 4])[0]
            cuts.update((pos, pos + 4, pos + 8))
            if size < 8:
                break
            pos += size
    return sorted(c for c in cuts if 0 <= c < len(data))


def huge_headers(data):
    """Copies of ``data`` whose header declares absurd sizes (the file stays small)."""
    out = []
    if data[4:8] == b"ftyp":  # MP4: absurd box sizes, and an absurd frame size in avc1
        out.append(struct.pack(">I", 0xFFFFFFFF) + data[4:])
        at = data.find(b"avc1")
        if at > 0 and at + 36 <= len(data):  # width and height follow the sample entry header
            for w, h in ((65535, 65535), (0, 0)):
                out.append(data[:at + 28] + struct.pack(">HH", w, h) + data[at + 32:])
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        for w, h in ((0x7FFFFFFF, 0x7FFFFFFF), (100000, 100000), (0, 10), (1, 0x7FFFFFFF)):
            out.append(data[:16] + struct.pack(">II", w, h) + data[24:])
    elif data[:2] == b"\xff\xd8":
        for i in range(len(data) - 9):
            if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2):  # start of frame
                for w, h in ((65535, 65535), (0, 0), (1, 65535)):
                    out.append(data[:i + 5] + struct.pack(">HH", h, w) + data[i + 9:])
                break
    elif data[:4] == b"RIFF":
        out.append(data[:4] + struct.pack("<I", 0xFFFFFFFF) + data[8:])
        pos = 12
        while pos + 8 <= len(data):
            chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
            if chunk == b"fmt ":
                for field, fmt, value in ((10, "<H", 0), (10, "<H", 65535), (12, "<I", 0),
                                          (12, "<I", 0xFFFFFFFF), (22, "<H", 0), (22, "<H", 7)):
                    off = pos + field
                    out.append(data[:off] + struct.pack(fmt, value) + data[off + struct.calcsize(fmt):])
            if chunk == b"data":
                out.append(data[:pos + 4] + struct.pack("<I", 0xFFFFFFF0) + data[pos + 8:])
            pos += 8 + size
    return out


# -- mutations -------------------------------------------------------------------------
def mutate(data, rng):
    """One random mutation of ``data``; returns ``(description, bytes)``."""
    kind = rng.integers(7)
    if kind == 0:
        out = bytearray(data)
        for _ in range(rng.integers(1, 9)):
            i = rng.integers(len(out))
            out[i] ^= 1 << int(rng.integers(8))
        return "bit flips", bytes(out)
    if kind == 1:
        cuts = boundaries(data)
        return "truncated at a boundary", data[:cuts[rng.integers(len(cuts))]]
    if kind == 2:
        return "truncated", data[:rng.integers(0, min(len(data), 600) + 1)]
    if kind == 3:
        i = rng.integers(len(data))
        garbage = rng.integers(0, 256, rng.integers(1, 256), dtype=np.uint8).tobytes()
        if rng.random() < 0.5:
            return "garbage inserted", data[:i] + garbage + data[i:]
        return "garbage overwritten", data[:i] + garbage + data[i + len(garbage):]
    if kind == 4:
        magic = MAGICS[rng.integers(len(MAGICS))]
        return "wrong magic", magic + data[len(magic):]
    if kind == 5:
        variants = huge_headers(data)
        if variants:
            return "huge declared size", variants[rng.integers(len(variants))]
    return "random bytes", rng.integers(0, 256, rng.integers(0, 4096), dtype=np.uint8).tobytes()


def random_array(rng):
    """An array of a random dtype, rank and shape, sometimes holding NaN/inf."""
    dtypes = [np.uint8, np.int8, np.int16, np.int32, np.int64, np.uint16, np.float16, np.float32,
              np.float64, np.bool_, np.complex64]
    dtype = dtypes[rng.integers(len(dtypes))]
    rank = int(rng.integers(0, 5))
    shape = tuple(int(rng.choice([0, 1, 2, 3, 4, 7, 64, 300])) for _ in range(rank))
    if np.prod(shape, dtype=np.int64) > 2_000_000:
        shape = shape[:2]
    values = rng.normal(0, 2, shape) * (255 if rng.random() < 0.5 else 1)
    if np.issubdtype(dtype, np.floating) and values.size and rng.random() < 0.3:
        values.flat[rng.integers(values.size)] = [np.nan, np.inf, -np.inf][rng.integers(3)]
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)


def random_text(rng):
    """A string with any Unicode: controls, combining marks, RTL, emoji, lone surrogates."""
    pools = [(0, 0x20), (0x20, 0x7F), (0x80, 0x800), (0x300, 0x370), (0x590, 0x700),
             (0x1F300, 0x1FAFF), (0xE000, 0xF900), (0x4E00, 0x9FFF)]
    if rng.random() < 0.1:  # lone surrogates: a str Python allows but no encoder does
        pools.append((0xD800, 0xE000))
    chars = []
    for _ in range(rng.integers(0, 80)):
        lo, hi = pools[rng.integers(len(pools))]
        chars.append(chr(int(rng.integers(lo, hi))))
    return "".join(chars)


def _wrong_types(rng):
    return [None, 3, 2.5, True, object(), {"a": 1}, (), [], [None], np.float64(1.0), set(),
            [b"", 1]][rng.integers(12)]


# -- cases per pipeline ----------------------------------------------------------------
VIDEO_SAMPLES = (".mp4", ".webm", ".avi")  # pipelines/samples/video/clip.*, by tools/make_samples.py


def samples(pipeline):
    """The valid inputs mutations start from (shipped with the library and its tests)."""
    if pipeline in ("caption", "stylize", "stylize_style"):
        paths = sorted(glob.glob(os.path.join(ROOT, "pipelines", "samples", "*.jpg")))
        datas = [open(p, "rb").read() for p in paths]
        from PIL import Image
        import io
        png = io.BytesIO()
        Image.open(paths[0]).convert("RGB").resize((48, 40)).save(png, "PNG")
        return datas + [png.getvalue()]
    if pipeline == "transcribe":
        paths = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "speech_heldout", "*",
                                              "wavs", "*.wav")))[:4]
        if not paths:  # an installed library without the tests: a synthetic tone
            import io
            import soundfile
            buf = io.BytesIO()
            soundfile.write(buf, 0.1 * np.sin(np.arange(16000) / 5.0), 16000, format="WAV")
            return [buf.getvalue()]
        return [open(p, "rb").read() for p in paths]
    if pipeline == "translate":
        return ["Delete %s?", "Cannot open file {name}: %(error)s", "Save the document"]
    if pipeline == "annotate_video":
        # committed files, not encoded here: x264 under load gave a different stream one run
        # in ~50, and a fuzz case must replay byte for byte on any machine
        return [open(os.path.join(ROOT, "pipelines", "samples", "video", "clip" + extension),
                     "rb").read() for extension in VIDEO_SAMPLES]
    raise ValueError(f"pipeline must be one of {sorted(ARGUMENT)}, got {pipeline!r}")


def cases(pipeline, count, seed=0):
    """``count`` seeded ``(description, input)`` pairs for ``pipeline``."""
    rng = np.random.default_rng(seed)
    base = samples(pipeline)
    for _ in range(count):
        roll = rng.random()
        if pipeline == "translate":
            if roll < 0.75:
                yield "random unicode", random_text(rng)
            elif roll < 0.85:
                yield "invalid utf-8 bytes", b"\xff\xfe" + rng.integers(0, 256, 20, np.uint8).tobytes()
            elif roll < 0.9:
                yield "over the length limit", "a" * 20_001
            else:
                yield "wrong type", _wrong_types(rng)
        elif roll < 0.8:
            desc, data = mutate(base[rng.integers(len(base))], rng)
            yield desc, data
        elif roll < 0.95:
            yield "generated array", random_array(rng)
        else:
            yield "wrong type", _wrong_types(rng)


def _call(pipeline, value):
    import pipelines

    if pipeline == "stylize_style":
        photo = np.full((40, 48, 3), 128, np.uint8)
        return pipelines.stylize(photo, style=value)
    return getattr(pipelines, pipeline)(value)


def run(pipeline, cases_count=200, seed=0, timeout=60.0, progress=False, start=0, shard=(0, 1)):
    """Fuzz one pipeline; returns counts, the slowest call, and every violation.

    A violation is any exception other than ValueError/TypeError, one whose message does
    not name the argument, or a call slower than ``timeout`` seconds. Only the cases
    ``i >= start`` with ``i % shard[1] == shard[0]`` are called, so disjoint parts of one
    seeded sequence can run in separate processes or sessions (see ``merge``).
    """
    argument = ARGUMENT[pipeline]
    index, shards = shard
    if not (isinstance(shards, int) and shards >= 1 and 0 <= index < shards):
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")
    report = {"pipeline": pipeline, "cases": 0, "results": 0, "clear_errors": 0,
              "slowest_s": 0.0, "violations": []}
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        for i, (desc, value) in enumerate(cases(pipeline, cases_count, seed)):
            if i < start or i % shards != index:
                continue
            began = time.perf_counter()
            future = pool.submit(_call, pipeline, value)
            try:
                future.result(timeout=timeout)
                report["results"] += 1
            except concurrent.futures.TimeoutError:
                report["violations"].append({"case": i, "input": desc, "error": f"no answer in {timeout} s"})
                break  # the worker is stuck; later cases would queue behind it
            except (ValueError, TypeError) as err:
                if argument in str(err) or "sampling_rate" in str(err):
                    report["clear_errors"] += 1
                else:
                    report["violations"].append({"case": i, "input": desc,
                                                 "error": f"{type(err).__name__}: {err}"[:300]})
            except Exception as err:  # noqa: BLE001 - the point is to catch every other kind
                report["violations"].append({"case": i, "input": desc,
                                             "error": f"{type(err).__name__}: {err}"[:300]})
            report["cases"] += 1
            report["slowest_s"] = max(report["slowest_s"], round(time.perf_counter() - began, 3))
            if progress and report["cases"] % 100 == 0:
                part = f" (shard {index} of {shards})" if shards > 1 else ""
                print(f"{pipeline}{part}: case {i + 1}/{cases_count}, {report['cases']} run, "
                      f"{len(report['violations'])} violations", file=sys.stderr, flush=True)
    finally:
        pool.shutdown(wait=False)
    return report


def merge(reports):
    """One report from reports of disjoint parts of the same pipeline's sequence.

    Example:
        >>> merge([run("translate", 10, shard=(0, 2)), run("translate", 10, shard=(1, 2))])["cases"]
        10
    """
    if not reports or len({r["pipeline"] for r in reports}) != 1:
        raise ValueError("reports must be a non-empty list of one pipeline's reports")
    out = {"pipeline": reports[0]["pipeline"], "violations": []}
    for key in ("cases", "results", "clear_errors"):
        out[key] = sum(r[key] for r in reports)
    out["slowest_s"] = max(r["slowest_s"] for r in reports)
    out["violations"] = sorted((v for r in reports for v in r["violations"]),
                               key=lambda v: v["case"])
    return {k: out[k] for k in ("pipeline", "cases", "results", "clear_errors", "slowest_s",
                                "violations")}


def _run_shard(pipeline, cases_count, seed, timeout, start, shard):
    # One worker process per shard: one TensorFlow thread each, so workers share the
    # cores instead of fighting over them.
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return run(pipeline, cases_count, seed, timeout, progress=True, start=start, shard=shard)


def run_parallel(pipeline, cases_count=200, seed=0, timeout=60.0, start=0, workers=2):
    """``run`` split over ``workers`` processes; the merged report equals one process's
    (same cases, same outcomes) apart from the timings."""
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if workers == 1:
        return run(pipeline, cases_count, seed, timeout, progress=True, start=start)
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a forked TensorFlow is not safe
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(_run_shard, pipeline, cases_count, seed, timeout, start,
                               (k, workers)) for k in range(workers)]
        return merge([f.result() for f in futures])


def merge_files(paths):
    """Merge the ``--json`` outputs of disjoint parts of one run, pipeline by pipeline."""
    by_pipeline = {}
    for path in paths:
        with open(path) as f:
            for report in json.load(f):
                by_pipeline.setdefault(report["pipeline"], []).append(report)
    return [merge(reports) for reports in by_pipeline.values()]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fuzz the pipelines' input contract.")
    # no argparse choices: with nargs="*" they reject an empty list (a --merge run)
    parser.add_argument("pipelines", nargs="*", metavar="PIPELINE",
                        help=f"one or more of {sorted(ARGUMENT)}")
    parser.add_argument("--cases", type=int, default=1000, help="cases per pipeline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per call")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes per pipeline, each running every n-th case")
    parser.add_argument("--start", type=int, default=0,
                        help="skip the sequence's first cases (to finish a split run)")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="instead of fuzzing, merge the --json outputs of parts of one run")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.start < 0:
        parser.error("--workers must be >= 1 and --start >= 0")
    if bool(args.merge) == bool(args.pipelines):
        parser.error("give either PIPELINE names or --merge files")
    unknown = sorted(set(args.pipelines) - set(ARGUMENT))
    if unknown:
        parser.error(f"unknown PIPELINE {unknown}; choose from {sorted(ARGUMENT)}")
    if args.merge:
        reports = merge_files(args.merge)
    else:
        reports = [run_parallel(p, args.cases, args.seed, args.timeout, args.start, args.workers)
                   for p in args.pipelines]
    if args.json:
        print(json.dumps(reports, indent=1))
    else:
        for r in reports:
            print(f"{r['pipeline']}: {r['cases']} cases, {r['results']} results, "
                  f"{r['clear_errors']} clear errors, {len(r['violations'])} violations, "
                  f"slowest call {r['slowest_s']} s")
            for v in r["violations"][:20]:
                print(f"  case {v['case']} ({v['input']}): {v['error']}")
    return 1 if any(r["violations"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
