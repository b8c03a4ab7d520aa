"""Train a fixture model once per test run, however many pytest-xdist workers ask for it.

Each xdist worker runs its own session, so a session-scoped fixture that trains a model
would train it once per worker. ``trained_once`` lets the first worker train and save it;
the others wait on a file lock and load what it saved (seconds instead of tens of seconds).
Without xdist it simply trains.

Example (a fixture)::

    @pytest.fixture(scope="session")
    def overfit_task(tmp_path_factory):
        return trained_once(tmp_path_factory, "overfit_task", lambda: train_a_tiny_task())
"""

import os

from filelock import FileLock


def trained_once(tmp_path_factory, name, train):
    """``train()`` -> a task, run by the first worker that asks; the others load its save."""
    from tasks.core.task import Task

    base = str(tmp_path_factory.getbasetemp())
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = os.path.dirname(base)  # the run's folder, which every worker of this run shares
    path = os.path.join(base, f"trained_once_{name}")
    with FileLock(path + ".lock"):
        if os.path.isfile(os.path.join(path, "task.json")):
            return Task.load(path)
        task = train()
        task.save(path)
        return task
