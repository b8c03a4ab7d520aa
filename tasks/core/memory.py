"""Peak resident memory of this process, for the benchmarks' and tests' memory figures.

``getrusage(...).ru_maxrss`` is not the process's own peak on Linux: a process started by
``subprocess`` (fork or vfork, then exec) inherits its parent's peak, so a "fresh process"
measured that way reports at least what its parent ever used (a benchmark parent that had
trained a model made a long-video child read 3 GB). ``VmHWM`` in ``/proc/self/status``
belongs to the address space exec made, so it is the child's own peak.

Example:
    >>> peak_rss_mb() > 0
    True
"""

import resource
import sys


def peak_rss_mb():
    """This process's own peak resident set size in MB (``VmHWM`` on Linux, else
    ``ru_maxrss``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass  # not Linux: fall back to getrusage below
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere
