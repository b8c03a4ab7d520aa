"""Tiny samples cut from real builds of the two corpora, loaded by the ordinary readers.

tests/fixtures/speech_en_tiny: 6 utterances of `python -m tasks.speech.corpus` output
(train, test and test_natural); tests/fixtures/debian_en_fr_tiny: 8 pairs per split of
`pipelines build-data translation` output.
"""

import os

import numpy as np

from tasks.speech.data import load_audio, make_dataset, read_ljspeech
from tasks.translation.data import make_dataset as pairs_dataset
from tasks.translation.data import read_tsv_pairs

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def test_speech_sample_loads_into_tf_data():
    root = os.path.join(FIXTURES, "speech_en_tiny")
    examples = read_ljspeech(root)
    assert len(examples) == 6 and all(e["text"].replace("'", "").replace(" ", "").isalpha() for e in examples)
    audio, lengths, texts = next(iter(make_dataset(examples, batch_size=6)))
    assert audio.shape[0] == 6 and int(lengths.numpy().max()) == audio.shape[1]
    for e, n in zip(examples, lengths.numpy()):
        x = load_audio(e["audio"])
        assert len(x) == n and 0.05 < np.abs(x).max() <= 1.0
    with open(os.path.join(root, "utterances.tsv")) as f:
        engines = {line.split("\t")[0].rsplit("_", 1)[0]: line.split("\t")[1] for line in f.readlines()[1:]}
    assert engines == {"train": "espeak-ng", "test": "espeak-ng", "test_natural": "piper"}


def test_translation_sample_loads_and_keeps_packages_apart():
    root = os.path.join(FIXTURES, "debian_en_fr_tiny")
    packages = {}
    for split in ("train", "val", "test"):
        pairs = read_tsv_pairs(os.path.join(root, f"{split}.tsv"))
        assert len(pairs) == 8 and all(p["source"] and p["target"] for p in pairs)
        with open(os.path.join(root, f"{split}.tsv"), encoding="utf-8") as f:
            packages[split] = {line.rstrip("\n").split("\t")[2] for line in f}
        src, tgt = next(iter(pairs_dataset(pairs, batch_size=8)))
        assert src.shape == (8,)
    assert not packages["train"] & (packages["val"] | packages["test"])
    assert packages["test"] <= {"wget", "nano", "parted", "gdb", "psmisc", "cpio"}
