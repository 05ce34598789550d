"""scratchnet check: exit 0 for a right layer, 1 naming the mistake for every catalogued
variant, 2 with one line on stderr for every usage error."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest

from reference import MISTAKES
from reference.check import CHECKED_KINDS
from reference.check.battery import battery
from reference.mistakes import Mistake
from reports import check_cli
from tests.reports.test_cli import run

STUDENTS = Path(__file__).parents[1] / "reference" / "student_layers.py"


def test_a_right_layer_exits_0(capsys) -> None:
    code, out, err = run(capsys, "check", f"{STUDENTS}:StudentConv2D", "--kind", "conv2d")
    assert code == 0, err
    assert out.startswith(f"StudentConv2D (conv2d) agrees with PyTorch in all "
                          f"{len(battery('conv2d'))} configurations it takes")


CHECKED = [m for m in MISTAKES.values() if m.kind in CHECKED_KINDS]


@pytest.mark.parametrize("mistake", CHECKED, ids=[m.id for m in CHECKED])
def test_a_catalogued_variant_exits_1_naming_its_mistake(capsys, mistake: Mistake) -> None:
    """Wrong numbers exit 1; a mistake that raises in every configuration (a size
    computed by true division) did not run, which exits 3: both name the mistake."""
    target = f"{inspect.getfile(mistake.variant)}:{mistake.variant.__name__}"
    code, out, _ = run(capsys, "check", target, "--kind", mistake.kind, "--random", "0")
    who = f"{mistake.variant.__name__} ({mistake.kind})"
    if code == check_cli.DID_NOT_RUN:
        assert f"{who} DID NOT RUN in " in out
        assert "raised" in out.splitlines()[0]
    else:
        assert code == 1
        assert f"{who} DISAGREES with PyTorch" in out
    assert f"matches `{mistake.id}`" in out


def test_a_students_mistake_exits_1_naming_it_and_writes_json(capsys, tmp_path) -> None:
    report = tmp_path / "report.json"
    code, out, _ = run(capsys, "check", f"{STUDENTS}:StudentMaxPoolAllTies", "--kind",
                       "maxpool2d", "--json", str(report), "--table")
    assert code == 1
    assert "maxpool2d grad input matches `pool-grad-to-all-ties`" in out
    assert out.splitlines()[0].split() == ["configuration", "quantity", "shape", "max_abs_err",
                                           "tolerance", "agrees", "fd_err", "fd_tolerance",
                                           "fd_agrees", "status"]
    data = json.loads(report.read_text())
    assert data["matches"] == {"grad input": ["pool-grad-to-all-ties"]}
    assert data["passed"] is False and data["name"] == "StudentMaxPoolAllTies"


SOURCES = {
    "raises.py": "import numpy as np\n\nx = 1 / 0\n",
    "syntax.py": "class Broken(\n    pass\n",
    "nobackward.py": "class Half:\n    def forward(self, x):\n        return x\n",
    "function.py": "def relu(x):\n    return x\n",
    "imports.py": "import helper\n",
    "helper.py": "import numpy as np\nx = undefined\n",
}


@pytest.mark.parametrize("target, kind, message", [
    ("missing.py:Conv", "conv2d", "no such file: {dir}/missing.py"),
    ("raises.py:Conv", "conv2d", "cannot import {dir}/raises.py, line 3: ZeroDivisionError: "
                                 "division by zero"),
    ("syntax.py:Broken", "relu", "cannot import {dir}/syntax.py, line 1: SyntaxError"),
    ("nobackward.py:Nope", "relu", "{dir}/nobackward.py has no class 'Nope' (it defines Half)"),
    ("nobackward.py:Half", "relu", "Half has no backward method: a relu needs forward(x) and "
                                   "backward(grad_y)"),
    ("function.py:relu", "relu", "{dir}/function.py: 'relu' is a function, not a class"),
    ("nobackward.py:Half", "conv3d", "--kind: unknown kind 'conv3d': expected one of conv2d, "
                                     "maxpool2d, dense, relu, softmax-ce"),
    ("nobackward.py", "relu", "{dir}/nobackward.py: no implementation found (no class with a "
                              "kind attribute, no CS231n function pair"),
    ("imports.py", "relu", "cannot import {dir}/imports.py: in helper.py, line 2: NameError: "
                           "name 'undefined' is not defined"),
])
def test_a_usage_error_is_one_line_and_exit_2(capsys, tmp_path, target: str, kind: str,
                                              message: str) -> None:
    for name, source in SOURCES.items():
        (tmp_path / name).write_text(source)
    path = sys.path.copy()
    code, out, err = run(capsys, "check", f"{tmp_path}/{target}", "--kind", kind)
    assert code == 2 and out == ""
    assert err.startswith(f"scratchnet check: error: {message.format(dir=tmp_path)}"), err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert sys.path == path                     # the file's directory is not left behind


@pytest.mark.parametrize("extra, message", [
    (["--json", "/nonexistent/report.json"], "--json: cannot write /nonexistent/report.json: "
                                             "no such directory"),
    (["--json", "/tmp"], "--json: cannot write /tmp: it is a directory"),
])
def test_bad_options_are_refused_before_any_work(capsys, extra, message) -> None:
    code, _, err = run(capsys, "check", f"{STUDENTS}:StudentReLU", "--kind", "relu", *extra)
    assert code == 2
    assert err == f"scratchnet check: error: {message}\n"


def test_a_named_function_pair_is_checked_as_discovery_checks_it(capsys) -> None:
    """FILE.py:FORWARD,BACKWARD builds the pair the way discovery does: the dropout adapter's
    inferred meaning of p is said in both."""
    target = f"{Path(__file__).parents[1]}/reference/examples/cs231n_more.py"
    code, out, _ = run(capsys, "check", f"{target}:dropout_forward,dropout_backward",
                       "--kind", "dropout", "--random", "0")
    assert code == 0
    assert "p read as the probability of keeping a value (inferred from its output)" in out
