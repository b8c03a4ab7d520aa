"""Copy a small fixed held-out sample of the built-in speech corpus into tests/fixtures.

    python tools/make_speech_heldout.py [--data data/speech_en]

The first 24 ``test`` and 16 ``test_natural`` utterances and all of ``real`` (LJSpeech
layout, one folder each) are what the default-model tests score, so the suite needs no
corpus build.
"""

import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tasks.speech.data import read_ljspeech  # noqa: E402

COUNTS = {"test": 24, "test_natural": 16, "real": None}
OUT = os.path.join(ROOT, "tests", "fixtures", "speech_heldout")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "speech_en"))
    args = parser.parse_args(argv)
    for split, count in COUNTS.items():
        examples = read_ljspeech(os.path.join(args.data, split))[:count]
        folder = os.path.join(OUT, split)
        os.makedirs(os.path.join(folder, "wavs"), exist_ok=True)
        with open(os.path.join(folder, "metadata.csv"), "w") as f:
            for e in examples:
                shutil.copyfile(e["audio"], os.path.join(folder, "wavs", e["id"] + ".wav"))
                f.write(f"{e['id']}|{e['text']}|{e['text']}\n")
        print(split, len(examples))


if __name__ == "__main__":
    sys.exit(main())
