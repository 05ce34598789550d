"""The isolation on its own, with small trusted tasks standing for a submission's code:
what a worker may send, see and use, and what the grader hears when it misbehaves."""

import os
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reference.grade.isolation import Isolator, Limits, sandbox_probe

# small limits: a misbehaving task cannot harm the machine (2 s of wall time, 256 MB of
# address space beyond the grader's, 16 processes)
LIMITS = Limits(wall_seconds=2.0, cpu_seconds=2, memory_bytes=256 * 2**20, processes=16)

SECRET = np.arange(3.0)     # stands for PyTorch's reference numbers


def blind() -> None:
    SECRET[...] = np.nan


def task(where: Path, send) -> None:
    """Does what the submission's one file says."""
    what = next(where.glob("*.txt")).read_text().strip()
    if what == "report":
        print('{"score": 100}')                                   # a fake result on stdout
        seen = {"root": sorted(os.listdir("/")), "files": sorted(os.listdir(where)),
                "uid": os.getuid(), "ppid": os.getppid(), "secret": SECRET.tolist()}
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
            seen["network"] = "reached"
        except OSError as err:
            seen["network"] = type(err).__name__
        seen["hidden"] = sorted(os.listdir(HIDDEN)) if os.path.isdir(HIDDEN) else None
        send({"type": "seen", **seen}, {"x": np.ones(3)})
    elif what == "sleep":
        time.sleep(60)
    elif what == "exit":
        os._exit(3)
    elif what == "allocate":
        try:
            bytearray(2**30)
            send({"type": "allocated"}, None)
        except MemoryError:
            send({"type": "MemoryError"}, None)


HIDDEN = "/nowhere"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    global HIDDEN
    base = tmp_path_factory.mktemp("isolation")
    hidden = base / "results"
    hidden.mkdir()
    (hidden / "grades.csv").write_text("the class's grades")
    HIDDEN = str(hidden)
    subs = []
    for what in ("report", "sleep", "exit", "allocate"):
        (base / what).mkdir()
        (base / what / "do.txt").write_text(what)
        subs.append(base / what)
    scratch = base / "scratch"
    scratch.mkdir()
    mode = "namespaces" if sandbox_probe(scratch) is None else "none"
    with Isolator(task, blind, LIMITS, 2, [hidden], mode, scratch) as isolator:
        got = {o.submission.name: o for o in isolator.run(subs)}
    return got, mode


def test_the_sandbox_is_available_on_these_linux_machines(outcomes):
    assert outcomes[1] == "namespaces"


def test_a_worker_sends_data_and_its_stdout_is_kept_apart(outcomes):
    outcome = outcomes[0]["report"]
    assert outcome.problem is None
    (header, arrays), = outcome.frames
    assert header["type"] == "seen" and arrays["x"].tolist() == [1.0, 1.0, 1.0]
    assert outcome.stdout == '{"score": 100}\n'          # captured, never read as results


def test_a_worker_sees_only_its_files_no_network_no_grader(outcomes):
    header = outcomes[0]["report"].frames[0][0]
    assert header["files"] == ["do.txt"]                  # its own copy, nothing else
    assert header["hidden"] is None                       # the results folder: not there
    assert "submission" in header["root"] and "home" not in header["root"]
    assert header["network"] != "reached"
    assert header["ppid"] == 0                            # the grader is not in its world
    assert header["uid"] != 0                             # no privileges


def test_blind_wipes_the_references_in_the_workers_only(outcomes):
    assert all(np.isnan(outcomes[0]["report"].frames[0][0]["secret"]))
    assert SECRET.tolist() == [0.0, 1.0, 2.0]             # the grader keeps its own


def test_a_worker_past_its_wall_time_is_killed(outcomes):
    outcome = outcomes[0]["sleep"]
    assert outcome.problem == "the wall-time limit of 2 s was reached"
    assert outcome.frames == []


def test_os_exit_is_reported_with_its_status(outcomes):
    assert outcomes[0]["exit"].problem == "its process exited with status 3 (os._exit or exit)"


def test_memory_beyond_the_limit_is_refused(outcomes):
    assert outcomes[0]["allocate"].frames[0][0]["type"] == "MemoryError"


def test_the_sandbox_holds_when_python_imports_from_under_tmp(tmp_path, monkeypatch):
    """A fresh CI clone may live under /tmp: the folders Python imports from are then bound
    inside the sandbox's own /tmp, which must still be made (it was refused as existing)."""
    under_tmp = tmp_path / "clone"
    under_tmp.mkdir()
    assert str(under_tmp.resolve()).startswith("/tmp/")
    monkeypatch.setattr(sys, "path", [*sys.path, str(under_tmp)])
    assert sandbox_probe(tmp_path) is None
