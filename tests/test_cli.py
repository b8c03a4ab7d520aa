"""The pipelines command line: help for every verb, caption output, train/evaluate/export."""

import json
import os
import subprocess
import sys

import pytest

from pipelines.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("verb", ["caption", "demo", "build-data", "train", "evaluate", "export"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([verb, "--help"])
    assert exit_info.value.code == 0
    assert "usage: pipelines" in capsys.readouterr().out


def test_caption_json_lines(saved_task_dir, test_examples, capsys):
    paths = [e["image"] for e in test_examples[:2]]
    assert main(["caption", *paths, "--model", saved_task_dir, "--json", "--beam", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["image"] for line in lines] == paths
    assert all(isinstance(line["caption"], str) for line in lines)


def test_caption_bad_input_is_a_clear_error(saved_task_dir, tmp_path, capsys):
    assert main(["caption", str(tmp_path / "missing.png"), "--model", saved_task_dir]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["caption", "x.png", "--beam", "0"])


def test_train_evaluate_export_round_trip(scenes_root, tmp_path, capsys):
    out = str(tmp_path / "trained")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    # the CLI in a subprocess, as a user would run it (console-script module form)
    r = subprocess.run([sys.executable, "-m", "pipelines", "train", "captioning", "--data", scenes_root,
                        "--output", out, "--preset", "show_and_tell_gru", "--epochs", "1",
                        "--steps-per-epoch", "3", "--batch-size", "8"],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert os.path.exists(os.path.join(out, "task.json"))
    assert main(["evaluate", "captioning", "--data", scenes_root, "--model", out, "--limit", "4",
                 "--beam", "2"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(scores) == {"bleu4", "cider_d", "exact_match", "examples"} and scores["examples"] == 4
    assert main(["export", "captioning", "--model", out, "--output", str(tmp_path / "sm")]) == 0
    assert os.path.exists(tmp_path / "sm" / "saved_model.pb")


def test_build_data_command(tmp_path, capsys):
    assert main(["build-data", "captioning", "--output", str(tmp_path / "d"), "--sizes", "3,1,2"]) == 0
    manifest = json.load(open(tmp_path / "d" / "manifest.json"))
    assert manifest["counts"] == {"train": 3, "val": 1, "test": 2}


def test_build_data_speech_and_translation_dispatch(monkeypatch, tmp_path, capsys):
    import tasks.speech.corpus as speech
    import tasks.translation.corpus as translation

    seen = {}
    monkeypatch.setattr(speech, "build_corpus", lambda out, sizes, seed: seen.setdefault("speech", sizes)
                        and {"counts": sizes, "hours": {}})
    monkeypatch.setattr(translation, "build_corpus", lambda out: seen.setdefault("translation", out) and {
        "statistics": {s: {"pairs": 1} for s in ("train", "val", "test")}})
    assert main(["build-data", "speech", "--output", str(tmp_path), "--sizes", "5,1,1,2"]) == 0
    assert seen["speech"] == {"train": 5, "val": 1, "test": 1, "test_natural": 2}
    assert main(["build-data", "translation", "--output", str(tmp_path / "t")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"train": 1, "val": 1, "test": 1}


def test_debian_fetch_needs_apt(monkeypatch, tmp_path):
    import shutil

    from tasks.core import debian

    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(ValueError, match="needs Debian's apt-get"):
        debian.fetch_package("fortunes", "1", str(tmp_path))
