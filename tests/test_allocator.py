"""tasks.core.allocator: with glibc's malloc, memory a thread frees stays in the process for
its next allocation instead of being page-faulted back in; with jemalloc preloaded the call
says it did nothing. Each case runs in a fresh interpreter (the setting is process-wide and
must come before the thread first allocates) without the test run's preloaded jemalloc."""

import ctypes.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a worker thread allocates five blocks of SIZE MB (20: more than one of glibc's 64 MB thread
# heaps; 48: above its largest mmap threshold, 32 MB), writes them and frees them, ten times
# over: the pattern of a training step's activations and gradients
CHURN = """
import ctypes, resource, sys, threading
from tasks.core.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
SIZE = int(sys.argv[2]) << 20
faults = {}
def work():
    for i in range(12):
        if i == 2:
            faults["from"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        blocks = [libc.malloc(SIZE) for _ in range(5)]
        for block in blocks:
            ctypes.memset(block, 1, SIZE)
        for block in blocks:
            libc.free(block)
    faults["to"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(applied, faults["to"] - faults["from"])
"""


def _pages_written(size_mb):
    return 10 * 5 * (size_mb << 20) // 4096


def _run(mode, size_mb=20, preload=None):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if preload:
        env["LD_PRELOAD"] = preload
    out = subprocess.run([sys.executable, "-c", CHURN, mode, str(size_mb)], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("size_mb", [20, 48])
def test_freed_blocks_are_reused_without_page_faults(size_mb):
    applied, faults = _run("keep", size_mb)
    assert applied == "True"
    # 20 MB: measured 0; glibc's defaults: 255,690, every page of every block faulted in
    # again; the thresholds without the single arena: 102,410 (emptied thread heaps are
    # unmapped). 48 MB: measured 0; with mmap left on (the 32 MB threshold, one arena, no
    # trim), every block was mapped and faulted in anew
    pages = _pages_written(size_mb)
    assert faults < pages // 20, (faults, pages, _run("default", size_mb))


@pytest.mark.skipif(not ctypes.util.find_library("jemalloc"), reason="jemalloc not installed")
def test_under_jemalloc_it_reports_that_it_did_nothing():
    applied, _ = _run("keep", preload="libjemalloc.so.2")
    assert applied == "False"
