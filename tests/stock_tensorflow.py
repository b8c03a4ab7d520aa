"""The test side of ``stock_tf_serving.py``: one long-lived process of the stock-tensorflow
Python per test session (per xdist worker) that serves every stock-environment check.

    stock = StockTensorFlow("/path/.venv-stock/bin/python")
    out = stock.serve("--speech", "/tmp/export", "a.wav")   # the JSON the script prints
"""

import json
import os
import select
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stock_tf_serving.py")


class StockTensorFlow:
    """Starts ``python stock_tf_serving.py --serve`` on first use, with none of this project's
    paths (no PYTHONPATH, no virtualenv, cwd ``/``), so what it loads is what a stock TF
    Serving environment could."""

    def __init__(self, python):
        self.python = python
        self._proc = None

    def _start(self):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        self._proc = subprocess.Popen([self.python, SCRIPT, "--serve"], env=env, cwd="/",
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True)

    def serve(self, *args, timeout=300):
        """Run one request (the script's command-line arguments) and return its JSON;
        fails the test with the request's traceback if it raised."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        self._proc.stdin.write(json.dumps([str(a) for a in args]) + "\n")
        self._proc.stdin.flush()
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise AssertionError(f"the stock-tensorflow process gave no answer in {timeout} s: {args}")
        line = self._proc.stdout.readline()
        assert line, f"the stock-tensorflow process died (exit {self._proc.wait()}): {args}"
        reply = json.loads(line)
        assert reply["returncode"] == 0, reply["stderr"][-4000:]
        return json.loads(reply["stdout"].strip().splitlines()[-1])

    def close(self):
        """End the process: closing its input ends its loop; killed if it does not stop."""
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, OSError):
            self._proc.kill()
            self._proc.wait()
        self._proc = None
