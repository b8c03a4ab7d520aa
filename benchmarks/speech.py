"""Speech benchmark: speed, memory, and PocketSphinx side by side. Prints one JSON object.

    python benchmarks/speech.py --data data/speech_en --output benchmarks/results/speech_speed.json
    python benchmarks/speech.py --quick              # seconds, on the committed fixture; the tests
    python benchmarks/speech.py --long-audio F.wav   # transcribe one file; text, time, peak memory
    python benchmarks/speech.py --rtf-only --output benchmarks/results/speech_clip_rtf.json
                                                     # the 5 s clip's RTF alone; no corpus needed

Measures training utterances/s (the default architecture, augmented length-bucketed
batches) and, on one repeated batch, with XLA on and off, the tf.data pipeline alone, the
real-time factor (processing time / audio time) for one 5 s clip (warm, greedy and beam 8,
compiled as a stream of clips gets it; greedy also uncompiled, as a one-off clip runs), batch
throughput, peak memory while transcribing a one-hour recording, and, with ``--peer``, WER and
RTF of PocketSphinx 5 (PyPI ``pocketsphinx``, its bundled US-English model) next to ours on
the same ``test``, ``test_natural`` and ``real`` utterances. Uses the bundled default model
when present.
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
import soundfile  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "speech_en_tiny")
TINY = {"options": {"units": 64, "num_layers": 1, "projection": 64}, "subsampling_channels": 8,
        "n_mels": 40}


def _load_task(quick):
    from tasks.core.task import Task
    from tasks.speech.presets import DEFAULT_PRESET, presets
    from tasks.speech.task import SpeechTask

    path = presets[DEFAULT_PRESET]["path"]
    if not quick and os.path.exists(os.path.join(path, "task.json")):
        return Task.load(path), DEFAULT_PRESET
    return SpeechTask(TINY), "tiny (untrained)"


def _train_speed(examples, config, jit, steps, batch_size, fixed=False):
    """Utterances/s through ``fit``. ``fixed`` repeats one batch: XLA compiles once per
    shape, and length-bucketed batches change shape every step."""
    import tensorflow as tf

    from tasks.speech.data import make_training_dataset
    from tasks.speech.task import SpeechTask

    task = SpeechTask(config)
    ds = make_training_dataset(examples, task.preprocessor, batch_size, training=True, repeat=True)
    if fixed:
        ds = tf.data.Dataset.from_tensors(next(iter(ds))).repeat()
    task.compile(total_steps=steps * 2, jit_compile=jit)
    task.model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)  # trace and compile
    start = time.perf_counter()
    task.model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def _pipeline_speed(examples, preprocessor, batches, batch_size):
    from tasks.speech.data import make_training_dataset

    it = iter(make_training_dataset(examples, preprocessor, batch_size, training=True, repeat=True))
    next(it)
    start, count = time.perf_counter(), 0
    for _ in range(batches):
        count += int(next(it)[0]["frames"].shape[0])
    return count / (time.perf_counter() - start)


def _rtf(task, audio, beam, repeats):
    """Seconds per audio second of ``task.transcribe`` on one clip, warm: the median of
    ``repeats`` calls after enough calls that the clip's length bucket runs compiled, where
    the task compiles clips (``SpeechTask.clip_logits``: after ``JIT_AFTER_SECONDS`` of
    uncompiled calls), which is what a stream of such clips gets."""
    batch, lengths = audio[None], [len(audio)]
    policy = task.clip_compile_policy()
    key = policy.key(*batch.shape) if task.use_jit() else None
    task.transcribe(batch, lengths, beam_width=beam)
    while key is not None and not policy.ready(key):
        task.transcribe(batch, lengths, beam_width=beam)
    task.transcribe(batch, lengths, beam_width=beam)  # the compile, where there is one
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        task.transcribe(batch, lengths, beam_width=beam)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / (len(audio) / 16000)


def write_long_file(examples, seconds, path):
    """Concatenate utterances (with 0.3 s gaps) to ``seconds``; returns the examples in order."""
    from tasks.speech.data import load_audio

    gap = np.zeros(4800, np.float32)
    order, total = [], 0
    with soundfile.SoundFile(path, "w", 16000, 1, "PCM_16") as f:
        while total < seconds * 16000:
            for e in examples:
                audio = load_audio(e["audio"])
                f.write(np.concatenate([audio, gap]))
                order.append(e)
                total += len(audio) + len(gap)
                if total >= seconds * 16000:
                    break
    return order


def long_audio(path, model=None):
    """Transcribe one file in this process; report text, wall time and peak memory."""
    import pipelines

    start = time.perf_counter()
    text = pipelines.transcribe(path, model=model)
    from tasks.core.memory import peak_rss_mb

    peak_mb = peak_rss_mb()
    return {"text": text, "seconds": round(time.perf_counter() - start, 2),
            "audio_seconds": round(soundfile.info(path).duration, 1), "peak_rss_mb": round(peak_mb)}


def long_audio_child(path, model=None):
    """:func:`long_audio` in a fresh process, so its peak memory is the call's alone."""
    cmd = [sys.executable, os.path.abspath(__file__), "--long-audio", path]
    if model:
        cmd += ["--model", model]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout)


def _peer(task, data_dir, splits, limit):
    from pocketsphinx import Decoder

    import jiwer

    from tasks.speech.data import load_audio
    from tasks.speech.preprocessing import normalize_transcript
    from tasks.speech.recipe import read_split

    decoder = Decoder(samprate=16000)
    out = {}
    for split in splits:
        examples = read_split(data_dir, split, limit)
        refs = [normalize_transcript(e["text"]) for e in examples]
        audio = [load_audio(e["audio"]) for e in examples]
        seconds = sum(len(a) for a in audio) / 16000
        start, hyps = time.perf_counter(), []
        for a in audio:
            decoder.start_utt()
            decoder.process_raw((np.clip(a, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
            decoder.end_utt()
            hyps.append(normalize_transcript(decoder.hyp().hypstr if decoder.hyp() else ""))
        ps_time = time.perf_counter() - start
        start = time.perf_counter()
        ours = []
        for i in range(0, len(audio), 16):
            from tasks.core.audio import pad_batch

            ours += task.transcribe(*pad_batch(audio[i: i + 16]))
        our_time = time.perf_counter() - start
        out[split] = {
            "utterances": len(examples), "audio_seconds": round(seconds, 1),
            "pocketsphinx": {"wer": round(100 * jiwer.wer(refs, hyps), 2), "rtf": round(ps_time / seconds, 4)},
            "ours": {"wer": round(100 * jiwer.wer(refs, ours), 2), "rtf": round(our_time / seconds, 4)},
        }
        if task.config.get("language_model"):
            start = time.perf_counter()
            with_lm = []
            for i in range(0, len(audio), 16):
                with_lm += _lm_transcribe(task, audio[i: i + 16])
            lm_time = time.perf_counter() - start
            out[split]["ours_word_lm"] = {"wer": round(100 * jiwer.wer(refs, with_lm), 2),
                                          "rtf": round(lm_time / seconds, 4)}
    return out


def _lm_transcribe(task, clips):
    """The network, then the word language model's search (what pipelines.transcribe does
    for a model that has one)."""
    from tasks.core.audio import pad_batch

    audio, lengths = pad_batch(clips)
    logits = task.clip_logits(audio, lengths)
    return [text for text, _ in task.decode_with_language_model(list(logits))]


def _rtf_lm(task, audio, repeats):
    _lm_transcribe(task, [audio])  # warm: loads the language model (the clip's bucket is
    # compiled already where the task compiles clips: _rtf ran first)
    start = time.perf_counter()
    for _ in range(repeats):
        _lm_transcribe(task, [audio])
    return (time.perf_counter() - start) / repeats / (len(audio) / 16000)


def _clip_rtfs(task, clip, repeats):
    """The 5 s clip's real-time factors: greedy (compiled as a stream gets it, and
    uncompiled), beam 8, and with the word language model where the task has one."""
    from tasks.speech.task import SpeechTask

    out = {"rtf_5s_greedy": round(_rtf(task, clip, 1, repeats), 4)}
    uncompiled = SpeechTask(task.config, preprocessor=task.preprocessor, model=task.model,
                            jit_compile=False)
    out["rtf_5s_greedy_uncompiled"] = round(_rtf(uncompiled, clip, 1, repeats), 4)
    out["rtf_5s_beam8"] = round(_rtf(task, clip, 8, repeats), 4)
    if task.config.get("language_model"):
        out["rtf_5s_word_lm"] = round(_rtf_lm(task, clip, repeats), 4)
    return out


def rtf_only(model=None, repeats=30):
    """The 5 s clip's figures alone, for ``model`` (a saved task; None: the bundled default)
    on the committed fixture's utterances joined: no corpus needed."""
    import tensorflow as tf

    from tasks.core.task import Task
    from tasks.speech.data import load_audio
    from tasks.speech.presets import DEFAULT_PRESET, presets
    from tasks.speech.recipe import read_split

    path = model or presets[DEFAULT_PRESET]["path"]
    task = Task.load(path)
    clips = [load_audio(e["audio"]) for e in read_split(FIXTURE, "")]
    clip = np.concatenate(clips * (1 + 5 * 16000 // sum(len(c) for c in clips)))[: 5 * 16000]
    return {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, TF {tf.__version__}",
            "model": os.path.relpath(path, ROOT), "repeats": repeats,
            **_clip_rtfs(task, clip, repeats)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "speech_en"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--peer", action="store_true", help="PocketSphinx side by side")
    parser.add_argument("--limit", type=int, default=None, help="utterances per split for --peer")
    parser.add_argument("--long-seconds", type=int, default=3600)
    parser.add_argument("--long-audio", default=None, help="transcribe this file only")
    parser.add_argument("--rtf-only", action="store_true",
                        help="only the 5 s clip's real-time factors (on the committed fixture)")
    parser.add_argument("--model", default=None, help="a saved speech task (--long-audio, "
                        "--rtf-only; default: the bundled model)")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.long_audio:
        print(json.dumps(long_audio(args.long_audio, args.model)))
        return 0
    if args.rtf_only:
        return _emit(rtf_only(args.model), args.output)

    import tensorflow as tf

    from tasks.speech.presets import DEFAULT_ARCHITECTURE
    from tasks.speech.recipe import read_split

    quick = args.quick or not os.path.isdir(args.data)
    train = read_split(FIXTURE if quick else args.data, "" if quick else "train")
    task, model_name = _load_task(quick)
    steps, batch = (2, 4) if quick else (10, 32)
    config = TINY if quick else DEFAULT_ARCHITECTURE
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, TF {tf.__version__}",
              "model": model_name, "parameters": task.model.count_params()}
    # --quick (the test suite) times the XLA step only: no other test compiles a training
    # step with XLA, and every other training test runs the plain one
    if not quick:
        result["train_utterances_per_s"] = round(_train_speed(train, config, False, steps, batch), 1)
        result["train_utterances_per_s_jit_off"] = round(
            _train_speed(train, config, False, steps, batch, fixed=True), 1)
    result["train_utterances_per_s_jit_on"] = round(
        _train_speed(train, config, True, steps, batch, fixed=True), 1)
    result["tf_data_utterances_per_s"] = round(_pipeline_speed(train, task.preprocessor,
                                                               2 if quick else 30, batch), 1)
    from tasks.speech.data import load_audio

    clip = np.concatenate([load_audio(e["audio"]) for e in train[:12]])[: 5 * 16000]
    repeats = 2 if quick else 10
    result.update(_clip_rtfs(task, clip, repeats))
    clips = [load_audio(e["audio"]) for e in train[:32]]
    from tasks.core.audio import pad_batch

    audio, lengths = pad_batch(clips)
    task.transcribe(audio, lengths)
    start = time.perf_counter()
    task.transcribe(audio, lengths)
    result["batch_audio_seconds_per_s"] = round(lengths.sum() / 16000 / (time.perf_counter() - start), 1)
    # the long-file memory run is the full benchmark's: under --quick (the tests) it would only
    # repeat tests/test_default_speech.py's one-hour recording, which runs the same child
    if not quick:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "long.wav")
            write_long_file(read_split(args.data, "test"), args.long_seconds, path)
            long = long_audio_child(path, None)
            result["long_audio"] = {k: v for k, v in long.items() if k != "text"}
    if args.peer and not quick:
        result["peer"] = _peer(task, args.data, ("test", "test_natural", "real"), args.limit)
    return _emit(result, args.output)


def _emit(result, output):
    text = json.dumps(result, indent=1)
    print(text)
    if output:
        with open(output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
