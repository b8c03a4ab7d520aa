"""When an XLA compile pays for itself: inputs padded to length buckets, compiled once used.

XLA compiles one program per input shape, which costs seconds on a CPU, and a call's
shape comes from its input's length. Padding each input to the next of a few length
buckets bounds the shapes; compiling a bucket only once the uncompiled graph has spent
about as long on it as a compile costs (the ski-rental rule) means a one-off call never
waits for a compile, and a stream of calls pays at most twice the best choice in hindsight.

Example:
    >>> policy = CompilePolicy(buckets=(16000, 32000), after_seconds=3.0)
    >>> key = policy.key(batch=1, width=20000)      # (1, 32000): the bucket's shape
    >>> policy.ready(key)                           # not yet: run uncompiled and record
    False
    >>> policy.spend(key, 3.1); policy.ready(key)
    True
"""


class CompilePolicy:
    """Per padded shape, whether to run compiled: once the uncompiled runs of that shape
    have taken ``after_seconds`` in all (so never on a shape's first call).

    ``buckets``: the widths inputs are padded to, ascending (none: nothing compiles); a
    wider input has no bucket (``key`` gives None) and always runs uncompiled. The policy
    only counts; the caller times its uncompiled calls and pads its inputs.
    """

    def __init__(self, buckets, after_seconds):
        buckets = tuple(int(b) for b in buckets)
        if list(buckets) != sorted(set(buckets)) or (buckets and buckets[0] < 1):
            raise ValueError(f"buckets must be ascending distinct positive widths, got {buckets!r}")
        if not after_seconds >= 0:
            raise ValueError(f"after_seconds must be >= 0, got {after_seconds!r}")
        self.buckets, self.after_seconds = buckets, float(after_seconds)
        self._spent = {}

    def key(self, batch, width):
        """``(batch, bucket width)`` for an input ``[batch, width]``, or None when it is
        wider than the largest bucket."""
        bucket = next((b for b in self.buckets if b >= width), None)
        return None if bucket is None else (int(batch), bucket)

    def ready(self, key):
        """Whether calls of ``key``'s shape should now run compiled."""
        return key is not None and key in self._spent and self._spent[key] >= self.after_seconds

    def spend(self, key, seconds):
        """Record an uncompiled call of ``key``'s shape that took ``seconds``."""
        if key is not None:
            self._spent[key] = self._spent.get(key, 0.0) + float(seconds)

    def compiled_shapes(self):
        """The shapes that run compiled now, sorted."""
        return sorted(k for k in self._spent if self.ready(k))
