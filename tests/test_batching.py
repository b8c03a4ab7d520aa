"""tasks.core.batching.map_batches: order, grouping, concurrency, errors."""

import threading

import pytest

from tasks.core.batching import map_batches


def test_results_come_back_in_input_order_from_length_sorted_batches():
    items = ["ccc", "a", "bbbb", "dd", "e", "ffffff"]
    seen = []

    def fn(batch):
        seen.append(list(batch))
        return [s.upper() for s in batch]

    assert map_batches(fn, items, 2, key=len) == [s.upper() for s in items]
    assert seen == [["a", "e"], ["dd", "ccc"], ["bbbb", "ffffff"]]


def test_workers_run_batches_at_the_same_time():
    # Each batch waits for the other: this only finishes if both are in flight at once.
    barrier = threading.Barrier(2, timeout=10)

    def fn(batch):
        barrier.wait()
        return batch

    assert map_batches(fn, [1, 2, 3, 4], 2, workers=2) == [1, 2, 3, 4]
    barrier = threading.Barrier(2, timeout=0.2)
    with pytest.raises(threading.BrokenBarrierError):  # one at a time: the first waits alone
        map_batches(fn, [1, 2, 3, 4], 2, workers=1)


def test_errors_reach_the_caller():
    def fn(batch):
        if 3 in batch:
            raise RuntimeError("batch with 3")
        return batch

    with pytest.raises(RuntimeError, match="batch with 3"):
        map_batches(fn, [1, 2, 3, 4], 1, workers=2)
    with pytest.raises(ValueError, match="2 results for a batch of 3"):
        map_batches(lambda b: b[:2], [1, 2, 3], 3)
    with pytest.raises(ValueError, match="batch_size"):
        map_batches(lambda b: b, [1], 0)
    with pytest.raises(ValueError, match="workers"):
        map_batches(lambda b: b, [1], 1, workers=0)
