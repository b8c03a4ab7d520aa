"""Copy the built-in translation corpus's ``test`` split into tests/fixtures.

    python tools/make_translation_heldout.py [--data data/translation_fr]

The whole held-out split (6 packages, 1,640 pairs, 160 kB): the tokenizer tests run
over all of it, and the default-model tests score a fixed sample of it, so the suite
needs no corpus build.
"""

import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "translation_heldout")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "translation_fr"))
    args = parser.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(os.path.join(args.data, "test.tsv"), os.path.join(OUT, "test.tsv"))
    with open(os.path.join(OUT, "test.tsv"), encoding="utf-8") as f:
        print("test", sum(1 for _ in f))


if __name__ == "__main__":
    sys.exit(main())
