"""tools/bootstrap.py: the test run preloads jemalloc where it can be had, and never fails
for the want of it."""

import os
import subprocess
import sys

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
    assert env["LD_PRELOAD"] == "libother.so libjemalloc.so.2"
