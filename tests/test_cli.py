"""The pipelines command line: help for every verb, caption output, train/evaluate/export."""

import json
import os
import subprocess
import sys

import pytest

from pipelines.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


VERBS = [["caption"], ["transcribe"], ["translate"], ["translate-po"], ["stylize"], ["demo"],
         ["list"], ["build-data"], ["train"], ["evaluate"], ["export"]] + [
    [verb, task] for verb in ("train", "evaluate", "export", "build-data")
    for task in ("captioning", "speech", "translation", "style")] + [
    ["language-model"], ["language-model", "speech"]]


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*verb, "--help"])
    assert exit_info.value.code == 0
    assert "usage: pipelines" in capsys.readouterr().out


def test_no_task_name_in_the_shared_cli():
    source = open(os.path.join(ROOT, "pipelines", "cli.py")).read()
    for name in ("captioning", "speech", "translation", "caption(", "transcribe("):
        assert name not in source


def test_version_and_list(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("pipelines ")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "captioning  (pipelines.caption())" in out and "speech  (pipelines.transcribe())" in out
    assert "emoji_scenes_transformer" in out and "bundled" in out


def test_exit_codes_usage_bad_input_and_failure(saved_task_dir, tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        main(["caption"])  # usage: no image
    assert exit_info.value.code == 2
    assert main(["caption", str(tmp_path / "missing.png"), "--model", saved_task_dir]) == 2
    assert "does not exist" in capsys.readouterr().err
    import pipelines

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipelines, "caption", broken)
    assert main(["caption", str(tmp_path / "x.png")]) == 1
    assert "RuntimeError: disk on fire" in capsys.readouterr().err


def test_inputs_from_directories_globs_and_stdin(saved_task_dir, test_examples, capsys, monkeypatch):
    import io

    folder = os.path.dirname(test_examples[0]["image"])
    assert main(["caption", folder, "--model", saved_task_dir, "--json", "--beam", "1"]) == 0
    from_dir = [json.loads(line)["input"] for line in capsys.readouterr().out.splitlines()]
    assert len(from_dir) == len(test_examples)
    assert main(["caption", os.path.join(folder, "*.jpg"), "--model", saved_task_dir, "--beam", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(from_dir)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(from_dir[:2]) + "\n"))
    assert main(["caption", "-", "--model", saved_task_dir, "--json", "--beam", "1"]) == 0
    assert [json.loads(x)["input"] for x in capsys.readouterr().out.splitlines()] == from_dir[:2]
    assert main(["caption", os.path.join(folder, "*.nothing"), "--model", saved_task_dir]) == 2


def test_transcribe_verb(saved_speech_dir, speech_examples, capsys):
    paths = [e["audio"] for e in speech_examples[:2]]
    assert main(["transcribe", *paths, "--model", saved_speech_dir, "--json", "--timestamps"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["input"] for line in lines] == paths
    assert [line["transcript"]["text"] for line in lines] == [e["text"] for e in speech_examples[:2]]
    assert main(["transcribe", paths[0], "--model", saved_speech_dir]) == 0
    assert capsys.readouterr().out == f"{paths[0]}: {speech_examples[0]['text']}\n"


def test_speech_train_evaluate_export(speech_examples, tmp_path, capsys):
    from speech_fixtures import SPEECH_FIXTURE

    data = tmp_path / "corpus"
    os.makedirs(data)
    os.symlink(SPEECH_FIXTURE, data / "train")
    out = str(tmp_path / "asr")
    assert main(["train", "speech", "--data", str(data), "--output", out, "--preset", "bigru_small",
                 "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "3"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["saved"] == out
    assert main(["evaluate", "speech", "--data", str(data), "--split", "train", "--model", out,
                 "--limit", "4"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"wer", "cer", "examples"} <= set(scores) and scores["examples"] == 4
    assert main(["export", "speech", "--model", out, "--output", str(tmp_path / "sm")]) == 0
    assert os.path.exists(tmp_path / "sm" / "saved_model.pb")


def test_stdout_holds_only_results_and_no_tensorflow_logs(saved_task_dir, test_examples):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    path = test_examples[0]["image"]
    r = subprocess.run([sys.executable, "-m", "pipelines", "caption", path, "--model", saved_task_dir],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("\n") == 1 and r.stdout.startswith(path + ": ")
    assert r.stderr == "", r.stderr[-2000:]


def test_caption_json_lines(saved_task_dir, test_examples, capsys):
    paths = [e["image"] for e in test_examples[:2]]
    assert main(["caption", *paths, "--model", saved_task_dir, "--json", "--beam", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["input"] for line in lines] == paths
    assert all(isinstance(line["caption"], str) for line in lines)


def test_caption_bad_input_is_a_clear_error(saved_task_dir, tmp_path, capsys):
    assert main(["caption", str(tmp_path / "missing.png"), "--model", saved_task_dir]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["caption", "x.png", "--beam", "0"])
    assert exit_info.value.code == 2


def test_train_evaluate_export_round_trip(scenes_root, tmp_path, capsys):
    out = str(tmp_path / "trained")
    # in this process: test_stdout_holds_only_results_and_no_tensorflow_logs runs the CLI's
    # module form in a fresh interpreter
    assert main(["train", "captioning", "--data", scenes_root, "--output", out, "--preset",
                 "show_and_tell_gru", "--epochs", "1", "--steps-per-epoch", "3",
                 "--batch-size", "8"]) == 0
    assert os.path.exists(os.path.join(out, "task.json"))
    capsys.readouterr()
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
    monkeypatch.setattr(speech, "build_corpus", lambda out, sizes, seed, skip_engines: seen.update(
        speech=sizes, skip=skip_engines) or {"counts": sizes, "hours": {}})
    monkeypatch.setattr(translation, "build_corpus", lambda out: seen.setdefault("translation", out) and {
        "statistics": {s: {"pairs": 1} for s in ("train", "val", "test")}})
    assert main(["build-data", "speech", "--output", str(tmp_path), "--sizes", "5,1,1,2"]) == 0
    assert seen["speech"] == {"train": 5, "val": 1, "test": 1, "test_natural": 2} and seen["skip"] == []
    assert main(["build-data", "speech", "--output", str(tmp_path), "--skip-engines", "kokoro, piper,"]) == 0
    assert seen["skip"] == ["kokoro", "piper"]
    assert main(["build-data", "translation", "--output", str(tmp_path / "t")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"train": 1, "val": 1, "test": 1}


def test_debian_fetch_needs_apt(monkeypatch, tmp_path):
    import shutil

    from tasks.core import debian

    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(ValueError, match="needs Debian's apt-get"):
        debian.fetch_package("fortunes", "1", str(tmp_path))


def test_debian_fetch_refreshes_package_lists_once_on_a_fresh_machine(monkeypatch, tmp_path):
    from tasks.core import debian

    calls = []

    def fake_run(cmd, cwd=None):
        calls.append(cmd[:2])
        if cmd[:2] == ["apt-get", "download"] and ["apt-get", "update"] not in calls:
            raise RuntimeError("E: Can't select version")
        if cmd[:2] == ["apt-get", "download"]:
            open(os.path.join(cwd, "pkg_1.0_all.deb"), "w").close()
        return "1.0\n"

    monkeypatch.setattr(debian, "_run", fake_run)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    tree, version = debian.fetch_package("pkg", "1.0", str(tmp_path))
    assert version == "1.0"
    assert calls[:3] == [["apt-get", "download"], ["apt-get", "update"], ["apt-get", "download"]]


def test_debian_fetch_from_non_free_uses_its_own_package_lists(monkeypatch, tmp_path):
    from tasks.core import debian

    calls = []

    def fake_run(cmd, cwd=None):
        calls.append(cmd)
        if "download" in cmd:
            open(os.path.join(cwd, "pico_1.0_all.deb"), "w").close()
        return ""

    monkeypatch.setattr(debian, "_run", fake_run)
    monkeypatch.chdir(tmp_path)  # a relative cache: apt would read relative paths from /
    tree, version = debian.fetch_package("pico", "1.0", ".", component="non-free")
    update, download = calls[0], calls[1]
    sources = [a.split("=", 1)[1] for a in update if a.startswith("Dir::Etc::SourceList=")][0]
    assert update[-1] == "update" and sources.startswith(str(tmp_path))
    assert all(a.split("=", 1)[1].startswith(str(tmp_path)) for a in update
               if a.startswith("Dir::") and "SourceParts" not in a)
    line = open(sources).read()
    assert line.startswith("deb [signed-by=") and line.rstrip().endswith(" main non-free")
    assert "Dir::Etc::SourceParts=/dev/null" in download and download[-2:] == ["download", "pico=1.0"]
    assert version == "1.0" and calls[2][:2] == ["dpkg-deb", "-x"]
    # the machine's own apt configuration is not touched for main
    calls.clear()
    open(os.path.join(tmp_path, "debs", "other_2.0_all.deb"), "w").close()
    debian.fetch_package("other", "2.0", ".")
    assert calls[0] == ["apt-get", "download", "other=2.0"]
