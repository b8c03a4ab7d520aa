"""The ``pipelines`` command line: builds its parser from the registry and dispatches.

    pipelines list | --version
    pipelines caption IMG|DIR|GLOB|- ... [--json] [--beam N]
    pipelines transcribe AUDIO|DIR|GLOB|- ... [--json] [--timestamps] [--beam N]
    pipelines {train,evaluate,export,build-data} TASK ...

Each task adds its own verbs in ``tasks/<task>/cli.py`` (a ``register(commands)``
function); nothing here names a task. Results go to stdout, everything else to
stderr. Exit status: 0 success, 2 usage or bad input (the message names the
argument), 1 anything else. TensorFlow's start-up logs are silenced unless
``--verbose`` is given or ``TF_CPP_MIN_LOG_LEVEL`` is already set.
"""

import argparse
import contextlib
import glob
import importlib
import json
import os
import sys
import traceback
import warnings

from pipelines import registry

TASK_VERBS = {
    "train": "train a task on your data (resumable)",
    "evaluate": "score a model on a data split",
    "export": "write a TF Serving SavedModel",
    "build-data": "build a task's built-in data set",
    "language-model": "build a word language model from text and tune it for a trained model",
}


class UsageError(Exception):
    """Bad command-line input: exit status 2."""


def positive_int(value):
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return n


def expand_inputs(items, extensions, argument="inputs"):
    """Files, directories (recursed for ``extensions``), glob patterns and ``-`` (paths on stdin)."""
    out = []
    for item in items:
        if item == "-":
            out += [line.strip() for line in sys.stdin if line.strip()]
        elif os.path.isdir(item):
            found = sorted(os.path.join(d, f) for d, _, files in os.walk(item) for f in files
                           if f.lower().endswith(tuple(extensions)))
            if not found:
                raise UsageError(f"{argument}: directory {item!r} holds no {'/'.join(extensions)} files")
            out += found
        elif any(c in item for c in "*?["):
            found = sorted(glob.glob(item, recursive=True))
            if not found:
                raise UsageError(f"{argument}: pattern {item!r} matches no file")
            out += found
        else:
            out.append(item)
    if not out:
        raise UsageError(f"{argument}: no input given")
    return out


def print_results(items, results, key, as_json):
    """One line per input: ``name: result`` or a JSON object ``{"input", key: result}``."""
    for item, result in zip(items, results):
        if as_json:
            print(json.dumps({"input": item, key: result}), flush=True)
        else:
            text = result["text"] if isinstance(result, dict) else result
            print(f"{item}: {text}", flush=True)


@contextlib.contextmanager
def results_only_on_stdout():
    """Route what libraries print (Keras progress bars) to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def load_task(pipeline, model, fresh=False, argument="--model"):
    """A preset or saved task for verbs that need a Task (evaluate, export, training further),
    not an export; ``fresh``: a copy of its own, not the one the pipelines share."""
    from pipelines.models import MODELS

    task = MODELS.load_uncached(pipeline, model) if fresh else MODELS.get(pipeline, model)
    if not hasattr(task, "export"):
        raise ValueError(f"{argument} must be a preset or a saved task directory here, "
                         f"not an exported SavedModel")
    return task


def export_handler(pipeline):
    """The ``export TASK`` verb: ``--model`` (preset or saved task) -> ``--output`` SavedModel."""

    def handler(args):
        print(json.dumps({"exported": load_task(pipeline, args.model).export(args.output)}))

    return handler


def keras_verbosity():
    """Progress bars on a terminal, one line per epoch otherwise."""
    return 1 if sys.stderr.isatty() else 2


class Commands:
    """What a task's ``register(commands)`` gets: adds its verbs and their handlers."""

    def __init__(self, parser, common):
        self._common = common
        self._sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        self._sub.add_parser("list", help="list tasks and presets", parents=[common]).set_defaults(
            handler=_list)
        self._by_verb = {}
        for verb, text in TASK_VERBS.items():
            p = self._sub.add_parser(verb, help=text, description=text, parents=[common])
            self._by_verb[verb] = p.add_subparsers(dest="task", required=True, metavar="TASK")

    def inference(self, verb, text, handler):
        """A top-level verb (``pipelines caption ...``)."""
        p = self._sub.add_parser(verb, help=text, description=text, parents=[self._common])
        p.set_defaults(handler=handler)
        return p

    def task_verb(self, verb, task, text, handler):
        """``pipelines VERB TASK ...`` for one of TASK_VERBS."""
        p = self._by_verb[verb].add_parser(task, help=text, description=text, parents=[self._common])
        p.set_defaults(handler=handler)
        return p


def _version():
    try:
        from importlib.metadata import version

        return version("keras-pipelines")
    except Exception:  # noqa: BLE001 - running from a source tree that is not installed
        return "unknown (not installed)"


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's logs and full tracebacks")
    parser = argparse.ArgumentParser(prog="pipelines", parents=[common],
                                     description="Applied deep-learning pipelines: run, train, "
                                                 "evaluate and export tasks.")
    parser.add_argument("--version", action="version", version=f"pipelines {_version()}")
    commands = Commands(parser, common)
    for name in registry.TASKS:
        importlib.import_module(registry.cli_module(name)).register(commands)
    return parser


def _list(args):
    for name, spec in registry.TASKS.items():
        verb = f"pipelines.{spec['pipeline']}()" if spec.get("pipeline") else "build-data only"
        print(f"{name}  ({verb})")
        if spec.get("task"):
            presets = [(p, e) for c in registry.task_classes(spec["pipeline"])
                       for p, e in c.presets.items()]
            for preset, entry in presets:
                kind = ("bundled" if os.path.exists(os.path.join(entry.get("path", ""), "task.json"))
                        else "missing" if entry.get("path") else "architecture")
                default = " (default)" if preset == spec.get("default") else ""
                print(f"  {preset:<26} {kind:<12} {entry.get('description', '')}{default}")
    return 0


def quiet_tensorflow(verbose):
    """Silence TensorFlow's C++ and Python start-up logs unless asked (before it is imported)."""
    if verbose or "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    # absl prints a few lines before its logging is initialised, whatever the level:
    # import TensorFlow once with the stderr descriptor pointed at /dev/null.
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_tensorflow(args.verbose)
    try:
        return args.handler(args) or 0
    except (UsageError, ValueError, TypeError) as err:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI's last line: a message, status 1
        if args.verbose:
            traceback.print_exc()
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
