"""The two README commands, needing nothing but Python 3.11.

    python3 tools/bootstrap.py demo    # venv + install + caption the bundled samples
    python3 tools/bootstrap.py test    # venv + install with test extras + whole test suite

``test`` also makes ``.venv-stock``, an environment with only tensorflow, in which
the export tests run the SavedModels the way a stock TF Serving install would, and runs
the suite with jemalloc preloaded where it can be had (Debian's ``libjemalloc2``): the
suite is mostly TensorFlow graph building, whose many small C++ allocations glibc's
malloc serves slowly (measured: a single-process run of the translation and style model
tests 216.7 -> 162.5 s; with two pytest workers the A/B runs were within the host's noise).

Creates ``.venv`` next to the repo (reused when present) and installs the project
in editable mode. Exit status is the demo's or pytest's.
"""

import ctypes.util
import os
import shutil
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")


def _python():
    return os.path.join(VENV, "bin", "python")


def _install(extras):
    if not os.path.exists(_python()):
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f".[{extras}]" if extras else "."
    subprocess.run([_python(), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], cwd=ROOT,
                   check=True)
    subprocess.run([_python(), "-m", "pip", "install", "--quiet", "-e", spec], cwd=ROOT, check=True)


def _stock_env():
    """A second venv with only tensorflow: the export tests serve SavedModels from it."""
    stock = os.path.join(ROOT, ".venv-stock")
    python = os.path.join(stock, "bin", "python")
    version = subprocess.run([_python(), "-c", "import tensorflow as tf; print(tf.__version__)"],
                             capture_output=True, text=True, check=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout.strip()
    if not os.path.exists(python):
        print(f"creating {stock} (tensorflow {version} only)", flush=True)
        venv.EnvBuilder(with_pip=True).create(stock)
    subprocess.run([python, "-m", "pip", "install", "--quiet", f"tensorflow=={version}"], check=True)


def jemalloc(install=True):
    """The jemalloc library to preload (``"libjemalloc.so.2"``), or None where it cannot be had.

    Missing, it is installed with apt when this process may (root, apt-get present); any
    failure leaves the suite to run on glibc's malloc.

    Example:
        >>> env = dict(os.environ, LD_PRELOAD=jemalloc() or "")  # doctest: +SKIP
    """
    found = ctypes.util.find_library("jemalloc")
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    for update in (False, True):  # a fresh machine has no package lists yet
        if update:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        done = subprocess.run(["apt-get", "install", "-y", "-qq", "libjemalloc2"],
                              capture_output=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if done.returncode == 0:
            return ctypes.util.find_library("jemalloc")
    print("note: libjemalloc2 could not be installed; the tests run with glibc's malloc",
          file=sys.stderr)
    return None


def main(argv):
    if len(argv) < 1 or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    if sys.version_info[:2] != (3, 11):
        print(f"warning: tested on Python 3.11, this is {sys.version.split()[0]}", file=sys.stderr)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if argv[0] == "demo":
        _install(None)
        return subprocess.run([_python(), "-m", "pipelines", "demo"], cwd=ROOT, env=env).returncode
    _install("test")
    _stock_env()
    preload = jemalloc()
    if preload:
        env["LD_PRELOAD"] = " ".join(filter(None, (env.get("LD_PRELOAD"), preload)))
    # one pytest worker per core (pytest-xdist): much of a test's time is single-threaded
    # graph tracing and compilation (measured: 28.8 -> 20.2 min for the suite on 2 cores);
    # a file's tests on one worker: its fixtures and traced graphs are built once; the files in
    # the order conftest.py gives them (longest first), not xdist's most-tests-first
    cmd = [_python(), "-m", "pytest", "-q", "-n", "auto", "--dist", "loadfile",
           "--no-loadscope-reorder", "--durations=15",
           *argv[1:]]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
