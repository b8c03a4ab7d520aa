"""The corpus builder's splitting, leakage rules and manifest, on fixture packages.

The real build downloads pinned Debian packages; here ``fetch_package`` is replaced by
trees of compiled fixture catalogs laid out exactly like unpacked packages.
"""

import json
import os

import polib
import pytest

from tasks.translation import corpus
from tasks.translation.data import read_tsv_pairs

CATALOGS = {
    "coreutils": [("Copy the file to the directory", "Copier le fichier dans le répertoire"),
                  ("Remove %s now", "Supprimer %s maintenant"), ("_Quit", "_Quitter"),
                  ("Shared message here", "Message partagé ici")],
    "wget": [("Download the page again", "Télécharger la page à nouveau"),
             ("Shared message here", "Message partagé ici")],
    "tar": [("Extract all files", "Extraire tous les fichiers"),
            ("Copy the file to the directory", "Copier le fichier vers le répertoire")],
}


def fake_fetch(tmp_path):
    def fetch(name, version, cache, allow_other_version=False):
        tree = tmp_path / "trees" / name
        folder = tree / "usr" / "share" / "locale" / "fr" / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        po = polib.POFile()
        po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
        for src, tgt in CATALOGS[name]:
            po.append(polib.POEntry(msgid=src, msgstr=tgt))
        po.save_as_mofile(str(folder / f"{name}.mo"))
        return str(tree), version

    return fetch


def test_build_splits_by_package_without_leakage(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "fetch_package", fake_fetch(tmp_path))
    packages = (("coreutils", "9.1-1"), ("wget", "1.21.3-1+deb12u1"), ("tar", "1.34"))
    root = str(tmp_path / "corpus")
    manifest = corpus.build_corpus(root, packages=packages, progress=False)
    splits = {s: read_tsv_pairs(os.path.join(root, f"{s}.tsv")) for s in ("train", "val", "test")}
    with open(os.path.join(root, "test.tsv"), encoding="utf-8") as f:
        assert {line.split("\t")[2].strip() for line in f} == {"wget"}
    train_sources = {p["source"] for p in splits["train"]}
    held = {p["source"] for s in ("val", "test") for p in splits[s]}
    assert not train_sources & held  # no test or val message in training
    assert "Shared message here" in {p["source"] for p in splits["test"]}
    assert "Copy the file to the directory" not in train_sources  # its source is in val (tar)
    assert {"Remove <ph0> now", "Quit"} <= train_sources
    assert manifest["cleaning"]["kept"] == 8
    assert manifest["statistics"]["test"]["pairs"] == 2
    assert manifest["versions_used"]["wget"] == "1.21.3-1+deb12u1"
    assert json.load(open(os.path.join(root, "manifest.json")))["sha256"] == manifest["sha256"]
    # a complete build is reused, not rebuilt
    monkeypatch.setattr(corpus, "fetch_package", lambda *a, **k: pytest.fail("refetched"))
    assert corpus.build_corpus(root, packages=packages, progress=False)["sha256"] == manifest["sha256"]


def test_split_assignment_is_by_package_name():
    assert corpus.split_of("wget") == "test" and corpus.split_of("tar") == "val"
    assert corpus.split_of("coreutils") == "train"
    assert not set(corpus.TEST_PACKAGES) & set(corpus.VAL_PACKAGES)
    names = [p for p, _ in corpus.PINNED_PACKAGES]
    assert len(names) == len(set(names)) and set(corpus.TEST_PACKAGES) <= set(names)


def test_corpus_versions_only_add_training_packages():
    assert corpus.VERSIONS[corpus.VERSION] == corpus.PINNED_PACKAGES
    # each version extends the one before with training packages only, so a model trained
    # on one version is scored on the same val and test splits in every version
    assert [len(corpus.VERSIONS[v]) for v in sorted(corpus.VERSIONS)] == [54, 130, 323]
    for version in sorted(corpus.VERSIONS)[1:]:
        before, after = corpus.VERSIONS[version - 1], corpus.VERSIONS[version]
        assert after[:len(before)] == before
        assert {corpus.split_of(name) for name, _ in after[len(before):]} == {"train"}
    with pytest.raises(ValueError, match="version"):
        corpus.build_corpus("unused", version=7)

