"""Write ``tests/file_seconds.json``: each test file's measured time, from a pytest log.

The suite runs on two pytest-xdist workers, one test file per worker at a time
(``--dist loadfile``). ``tests/conftest.py`` hands the files out longest first, so the
last ones to start are short and both workers finish close together; this file is
where it learns which files are long. Regenerate it after a full run with durations:

    .venv/bin/python -m pytest -n 2 --dist loadfile --durations=0 tests | tee /tmp/suite.log
    .venv/bin/python tools/test_file_seconds.py /tmp/suite.log
"""

import argparse
import collections
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "tests", "file_seconds.json")
# one line of pytest's --durations report: "12.34s call     tests/test_x.py::test_y[p]"
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (?:call|setup|teardown)\s+(tests/[^:\s]+)::", re.M)


def file_seconds(log_text):
    """``{test file: seconds}`` summed over the setup, call and teardown lines of a
    ``--durations=0`` report (pytest leaves out phases under 5 ms)."""
    seconds = collections.defaultdict(float)
    for match in DURATION.finditer(log_text):
        seconds[match.group(2)] += float(match.group(1))
    return dict(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", help="output of a pytest run with --durations=0")
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args(argv)
    with open(args.log) as f:
        seconds = file_seconds(f.read())
    if not seconds:
        raise ValueError(f"log: {args.log} has no --durations=0 lines (run pytest with "
                         "--durations=0)")
    ordered = {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}
    with open(args.output, "w") as f:
        json.dump(ordered, f, indent=1)
        f.write("\n")
    print(f"{len(ordered)} files, {sum(ordered.values()):.0f} s in all -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
