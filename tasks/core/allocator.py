"""Keep freed tensor memory in the process instead of handing it back to the kernel.

TensorFlow's CPU tensors come from ``malloc``. With glibc's defaults, TensorFlow's worker
threads each get a malloc arena whose heaps are given back to the kernel as soon as they
empty, and blocks above a few MB are mapped and unmapped one by one; so every training step
frees its large activations and gradients to the kernel and page-faults the same memory
back in on the next step. On a virtual machine a page fault is expensive: training the
speech head on this project's 2-core VM spent 40 % of its CPU time in the kernel, at 4.5 s
a step. :func:`keep_freed_memory` gives glibc's malloc one arena (the main one, which grows
with ``brk``), serves every block from it, however large, and never trims it: 2.6 s a
step, the kernel's share 10 % (README, "Training speed and the allocator"). Blocks above
glibc's largest mmap threshold (32 MB), such as a Transformer block's attention scores over
a batch, would otherwise still be mapped and unmapped one by one: turning mmap off took a
step that trains Whisper's top block from 2.0 to 1.7 s.

It changes a process-wide setting, so the library never calls it on import, nor does the
``pipelines`` command line (a small BiGRU's step is slower on one arena: README): the
speech-head training scripts (``tools/train_speech_head.py``, ``tools/train_whisper_speech.py``)
call it first thing; a notebook or program that trains a large network calls it before
TensorFlow runs its first operation (TensorFlow's threads keep the arena they were given
when they first allocated).

Example:
    >>> from tasks.core.allocator import keep_freed_memory
    >>> keep_freed_memory()  # doctest: +SKIP
    True
"""

import ctypes
import ctypes.util

# glibc's <malloc.h> mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
# glibc's largest allowed mmap threshold on 64-bit (HEAP_MAX_SIZE / 2)
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
_NEVER_TRIM = 2**31 - 1


def _libc():
    """This process's C library when its malloc is glibc's; None otherwise (another C
    library, or an allocator such as jemalloc preloaded over it, which mallopt would not
    reach)."""
    try:
        process = ctypes.CDLL(None)
    except OSError:
        return None
    if hasattr(process, "mallctl") or not hasattr(process, "gnu_get_libc_version"):
        return None  # jemalloc (its own control call) or not glibc
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def keep_freed_memory():
    """Make glibc's malloc keep freed memory for reuse: one arena, every block from it (no
    block mapped on its own: glibc falls back to mmap only if the heap cannot grow), no
    trimming. Returns True when applied, False where the process's malloc is not
    glibc's (jemalloc preloaded: start the process with
    ``MALLOC_CONF=oversize_threshold:0`` instead).

    Call it before TensorFlow's first operation; the process then holds its peak memory
    until it exits, which a training or batch run wants and a long-lived server that
    shrinks between bursts may not.

    Example:
        >>> keep_freed_memory()  # first thing in a training script  # doctest: +SKIP
        True
    """
    libc = _libc()
    if libc is None:
        return False
    done = (libc.mallopt(_M_ARENA_MAX, 1), libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
            libc.mallopt(_M_MMAP_MAX, 0), libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
    return all(done)
