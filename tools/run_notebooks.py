"""Execute notebooks in place and keep their outputs (the committed full-scale runs).

    python tools/run_notebooks.py video_annotation            # full scale: minutes to an hour
    python tools/run_notebooks.py neural_translation --scale small --output-dir /tmp/nb

CI executes every notebook at small scale on a copy (``tests/test_notebooks.py``) and never
writes it back; this script is how the outputs on the repository page are made. Each run
records its scale, date, machine and wall time in the notebook's ``pipelines_run``
metadata, and ``tools/make_notebooks.py`` keeps the outputs of every cell it leaves unchanged.
"""

import argparse
import datetime
import os
import platform
import re
import sys
import time

import nbformat
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK_DIR = os.path.join(ROOT, "notebooks")


def available():
    return sorted(f[:-6] for f in os.listdir(NOTEBOOK_DIR) if f.endswith(".ipynb"))


# TensorFlow's C++ start-up lines (I0000 ...port.cc...) reach the kernel's stderr before its
# logging is configured, whatever TF_CPP_MIN_LOG_LEVEL says
_NATIVE_LOG = re.compile(r"^([IWE]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl)")
# library warnings that say nothing about the notebook (Python prints each as the warning
# line, then the source line that raised it, indented), TensorFlow's export chatter, and its
# retracing hint (each decoding setting and input kind is traced once or twice, by design)
_NOISE_WARNING = re.compile(r"^\S+\.py:\d+: (TqdmWarning: IProgress not found|"
                            r"UserWarning: `shuffle=True` was passed)")
_NOISE_LINE = re.compile(r"^(INFO:tensorflow:Assets written to: |WARNING:tensorflow:\d+ out of the "
                         r"last \d+ calls to .* triggered tf\.function retracing)")


def _readable(lines):
    """Drop native log lines, the known noise warnings (and their source lines) and
    TensorFlow's export chatter."""
    kept, skip_source = [], False
    for line in lines:
        if skip_source and line.startswith("  "):
            skip_source = False
            continue
        skip_source = bool(_NOISE_WARNING.match(line))
        if not (skip_source or _NATIVE_LOG.match(line) or _NOISE_LINE.match(line)):
            kept.append(line)
    return kept


def tidy_streams(nb):
    """Keep what a reader should see of each printed stream: a progress bar's last state
    (not every ``\r`` redraw), without TensorFlow's native start-up log lines, its export
    chatter, or library warnings that say nothing about the notebook."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []  # a progress bar arrives as one stream output per redraw: join them first
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream"
                    and merged[-1]["name"] == out["name"]):
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        outputs = []
        for out in merged:
            if out.get("output_type") == "stream":
                lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in out["text"].split("\n")]
                text = "\n".join(_readable(lines))
                if not text.strip():
                    continue
                out["text"] = text
            outputs.append(out)
        cell["outputs"] = outputs
    return nb


def _run_in_kernel(nb, name, timeout, start):
    """Run ``nb`` in a fresh Jupyter kernel (nbclient), reporting each cell's end."""
    # no per-cell timing metadata: it would differ on every run and tools/make_notebooks.py
    # does not keep it
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": ROOT}})
    client.on_cell_executed = lambda cell, cell_index, execute_reply: print(
        f"{name}: cell {cell_index + 1}/{len(nb.cells)} done at {time.time() - start:.0f} s",
        file=sys.stderr, flush=True)
    client.execute()


class _InlineShell(InteractiveShell):
    """An IPython shell without a front end: inline figures need no GUI event loop."""

    def enable_gui(self, gui=None):
        if gui is not None:
            raise ValueError(f"gui: only inline figures can be recorded, not {gui!r}")


class NotebookError(RuntimeError):
    """A cell raised; the message holds the cell's source and its traceback."""


def _run_here(nb, name="notebook", start=None):
    """Run ``nb``'s code cells in an IPython shell inside this process, recording each cell's
    printed streams and rich displays (matplotlib's inline figures) as its outputs.

    What a kernel adds (its own process, a TensorFlow import, ZeroMQ) cost about a quarter of
    each small-scale run; the tests use this, the committed full-scale outputs a kernel.
    Raises :class:`NotebookError` at the first cell that fails, as nbclient does."""
    import base64
    import traceback

    import matplotlib
    from IPython.core.pylabtools import select_figure_formats
    from IPython.utils.capture import capture_output
    from matplotlib_inline.backend_inline import InlineBackend

    start = time.time() if start is None else start
    backend, cwd = matplotlib.get_backend(), os.getcwd()
    # the shell installs its namespace as sys.modules["__main__"], a module without __spec__,
    # on which multiprocessing's "spawn" fails later in this process: it is put back below
    main_module = sys.modules.get("__main__")
    os.chdir(ROOT)  # where a kernel started by _run_in_kernel runs
    # the singleton, because IPython's display capture publishes through get_ipython()
    shell = _InlineShell.instance()
    try:
        shell.enable_matplotlib("inline")
        # matplotlib_inline selects the figure formats for the first shell of a process only
        inline = InlineBackend.instance()
        select_figure_formats(shell, inline.figure_formats, **inline.print_figure_kwargs)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            with capture_output() as captured:
                result = shell.run_cell(cell.source, store_history=False)
            outputs = [nbformat.v4.new_output("stream", name=stream, text=text)
                       for stream, text in (("stdout", captured.stdout),
                                            ("stderr", captured.stderr))
                       if text]
            for shown in captured.outputs:
                data = {mime: base64.b64encode(value).decode() if isinstance(value, bytes) else value
                        for mime, value in shown.data.items()}
                outputs.append(nbformat.v4.new_output("display_data", data=data,
                                                      metadata=shown.metadata or {}))
            cell.outputs = outputs
            print(f"{name}: cell {index + 1}/{len(nb.cells)} done at "
                  f"{time.time() - start:.1f} s", file=sys.stderr, flush=True)
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                raise NotebookError(f"cell {index + 1} failed:\n{cell.source}\n\n"
                                    + "".join(traceback.format_exception(error)))
    finally:
        shell.reset(new_session=False)
        _InlineShell.clear_instance()
        import matplotlib.pyplot as plt

        plt.close("all")
        matplotlib.use(backend)
        os.chdir(cwd)
        if main_module is not None:
            sys.modules["__main__"] = main_module


def execute(name, scale="full", output_dir=NOTEBOOK_DIR, timeout=7200, kernel=True):
    """Run ``notebooks/<name>.ipynb`` at ``scale`` and write it, outputs included, to
    ``output_dir``; returns the wall time in seconds. ``kernel=False`` runs the cells in an
    IPython shell in this process instead of a Jupyter kernel (the tests: no kernel start);
    then ``timeout`` does not apply.

    Example:
        >>> execute("video_annotation", scale="small", output_dir="/tmp/nb")  # doctest: +SKIP
    """
    if name not in available():
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    if scale not in ("small", "full"):
        raise ValueError(f"scale must be 'small' or 'full', got {scale!r}")
    nb = nbformat.read(os.path.join(NOTEBOOK_DIR, f"{name}.ipynb"), as_version=4)
    env = {"PIPELINES_NOTEBOOK_SCALE": scale, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    start = time.time()
    try:
        if kernel:
            _run_in_kernel(nb, name, timeout, start)
        else:
            _run_here(nb, name, start)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return _finish(nb, name, scale, output_dir, start)


def _finish(nb, name, scale, output_dir, start):
    seconds = round(time.time() - start, 1)
    tidy_streams(nb)
    nb.metadata["pipelines_run"] = {
        "scale": scale, "date": datetime.date.today().isoformat(), "seconds": seconds,
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU"}
    os.makedirs(output_dir, exist_ok=True)
    nbformat.write(nb, os.path.join(output_dir, f"{name}.ipynb"))
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", metavar="NAME", help=f"any of {available()}")
    parser.add_argument("--scale", default="full", choices=("small", "full"))
    parser.add_argument("--output-dir", default=NOTEBOOK_DIR)
    parser.add_argument("--timeout", type=int, default=7200, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(available()))
    if unknown:
        parser.error(f"unknown notebook {unknown}; choose from {available()}")
    for name in args.names:
        seconds = execute(name, args.scale, args.output_dir, args.timeout)
        print(f"{name}: executed at {args.scale} scale in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
