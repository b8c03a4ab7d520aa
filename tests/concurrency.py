"""The reliability contract's concurrency check, shared by every pipeline's tests: N threads
calling a pipeline at once on different inputs get exactly the sequential results, and the
model behind it loads once."""

import threading


def in_threads_then_in_turn(monkeypatch, call, inputs, timeout=300):
    """``call(x)`` for every input, first all at once (one thread each, from an empty model
    cache), then one at a time. Returns ``(threaded, sequential, loads)``: both result lists
    and how many times a model was loaded. An exception in a thread is re-raised here."""
    from pipelines.models import MODELS, ModelCache

    loads = []
    original = ModelCache._load
    monkeypatch.setattr(ModelCache, "_load", staticmethod(
        lambda *a: loads.append(a) or original(*a)))
    monkeypatch.setattr(MODELS, "_models", {})
    results, errors = [None] * len(inputs), []

    def work(i):
        try:
            results[i] = call(inputs[i])
        except BaseException as e:  # handed to the test thread below, not swallowed
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise AssertionError(f"a thread was still running after {timeout} s")
    # one at a time, from the model the threads loaded (one load and trace, not two)
    return results, [call(x) for x in inputs], len(loads)
