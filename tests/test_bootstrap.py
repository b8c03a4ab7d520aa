"""tools/bootstrap.py: the test run preloads jemalloc where it can be had, and never fails
for the want of it; the suite hands its longest files out first."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import bootstrap  # noqa: E402


def _machine(monkeypatch, *, root=True, apt=True, installs_after_update=True):
    """A machine without jemalloc whose apt answers as told; returns the commands run."""
    state = {"installed": False, "updated": False}
    commands = []

    def run(cmd, **kwargs):
        commands.append(cmd)
        if cmd[:2] == ["apt-get", "update"]:
            state["updated"] = True
        elif cmd[:2] == ["apt-get", "install"]:
            # a fresh machine's apt knows no packages until its lists are fetched
            state["installed"] = state["updated"] and installs_after_update
            return subprocess.CompletedProcess(cmd, 0 if state["installed"] else 100)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(bootstrap.ctypes.util, "find_library",
                        lambda name: "libjemalloc.so.2" if state["installed"] else None)
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: "/usr/bin/apt-get" if apt else None)
    monkeypatch.setattr(bootstrap.subprocess, "run", run)
    return commands


def test_a_missing_jemalloc_is_installed_after_refreshing_the_package_lists(monkeypatch):
    commands = _machine(monkeypatch)
    assert bootstrap.jemalloc() == "libjemalloc.so.2"
    assert [c[:2] for c in commands] == [["apt-get", "install"], ["apt-get", "update"],
                                         ["apt-get", "install"]]


def test_without_root_apt_or_the_package_the_suite_runs_without_it(monkeypatch, capsys):
    for machine in ({"root": False}, {"apt": False}):
        commands = _machine(monkeypatch, **machine)
        assert bootstrap.jemalloc() is None and commands == []
    commands = _machine(monkeypatch, installs_after_update=False)
    assert bootstrap.jemalloc() is None and len(commands) == 3
    assert "glibc's malloc" in capsys.readouterr().err
    assert bootstrap.jemalloc(install=False) is None


def test_the_test_command_preloads_it_beside_what_was_preloaded(monkeypatch):
    ran = []
    monkeypatch.setattr(bootstrap, "_install", lambda extras: None)
    monkeypatch.setattr(bootstrap, "_stock_env", lambda: None)
    monkeypatch.setattr(bootstrap, "jemalloc", lambda: "libjemalloc.so.2")
    monkeypatch.setattr(bootstrap.subprocess, "run",
                        lambda cmd, **kw: ran.append((cmd, kw["env"])) or
                        subprocess.CompletedProcess(cmd, 0))
    monkeypatch.setenv("LD_PRELOAD", "libother.so")
    assert bootstrap.main(["test", "-x"]) == 0
    (cmd, env), = ran
    assert cmd[1:4] == ["-m", "pytest", "-q"] and cmd[-1] == "-x"
    # the files in conftest.py's order (longest first), not xdist's most-tests-first
    assert cmd[cmd.index("--dist") + 1] == "loadfile" and "--no-loadscope-reorder" in cmd
    assert env["LD_PRELOAD"] == "libother.so libjemalloc.so.2"


def test_the_suite_hands_out_its_longest_files_first_keeping_each_file_together(monkeypatch):
    from pathlib import Path
    from types import SimpleNamespace

    import conftest

    monkeypatch.setattr(conftest, "_file_seconds",
                        lambda: {"tests/test_a.py": 1.0, "tests/test_b.py": 50.0})
    names = ["test_a.py", "test_a.py", "test_b.py", "test_b.py", "test_new.py"]
    items = [SimpleNamespace(path=Path(ROOT, "tests", name), order=i)
             for i, name in enumerate(names)]
    conftest.pytest_collection_modifyitems(None, items)
    # a file the times do not know yet is new, and may be long: it goes first
    assert [(item.path.name, item.order) for item in items] == [
        ("test_new.py", 4), ("test_b.py", 2), ("test_b.py", 3), ("test_a.py", 0), ("test_a.py", 1)]


def test_file_times_are_read_from_a_durations_report(tmp_path):
    import test_file_seconds

    log = tmp_path / "suite.log"
    log.write_text("============ slowest durations ============\n"
                   "12.50s call     tests/test_b.py::test_one[param-1]\n"
                   "0.50s setup    tests/test_b.py::test_one[param-1]\n"
                   "3.00s call     tests/test_a.py::test_two\n"
                   "[gw0] [ 50%] PASSED tests/test_a.py::test_two\n")
    output = tmp_path / "file_seconds.json"
    test_file_seconds.main([str(log), "--output", str(output)])
    import json

    assert json.loads(output.read_text()) == {"tests/test_b.py": 13.0, "tests/test_a.py": 3.0}
    log.write_text("no durations here\n")
    with pytest.raises(ValueError, match="durations=0"):
        test_file_seconds.main([str(log), "--output", str(output)])
