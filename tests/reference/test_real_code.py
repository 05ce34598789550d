"""Real students' mistakes, in the style real code is written in, are named by their own
catalogue entries (issue 21, items 4 and 6).

``tests/reference/examples/wrong_cs231n*.py`` are CS231n-convention functions written for
these tests, each with one or two of the real mistakes (their docstrings say which
pattern each models); ``scratchnet check`` finds them by their names
(``reference.check.discover``) and checks each pair in the course's conventions. The
named configurations alone (no random ones) must catch and name every mistake.
Tolerances: the project's one rule (float64, 1e-12 scaled).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reference import MISTAKES, check_layer
from reference.check import check_implementation, discover, load
from reference.kinds import KINDS
from reference.kinds.conv2d import rows_over
from reference.mistakes import of_kind

EXAMPLES = Path(__file__).parent / "examples"
LIGHT = {"random_configurations": 0}     # the named configurations only


def named(report) -> set[str]:
    """Every mistake id the report names, over all quantities."""
    return {mistake_id for ids in report.matches.values() for mistake_id in ids}


CASES = [   # (file, kind, the mistake it makes, where the report says it is)
    ("wrong_cs231n.py", "conv2d", "conv-input-grad-cut-empty-without-padding",
     "grad input is wrong only with no padding"),
    ("wrong_cs231n.py", "maxpool2d", "pool-overlap-overwrites",
     "grad input is wrong only with overlapping windows"),
    ("wrong_cs231n_python2.py", "conv2d", "conv-size-true-division",
     "It did not run in every configuration: forward raised TypeError: 'float' object "
     "cannot be interpreted as an integer"),
    ("wrong_cs231n_python2.py", "softmax-ce", "ce-log-of-softmax",
     "loss is wrong only with a class far below the best"),
    ("wrong_cs231n_asserts.py", "conv2d", "conv-assert-stride-divides",
     "It did not run only with sizes the stride does not divide"),
    ("wrong_cs231n_asserts.py", "dense", "dense-bias-grad-averaged",
     "grad weight is wrong only with batch > 1"),
    ("wrong_cs231n_square.py", "conv2d", "conv-assumes-square-input",
     "output is wrong only with a non-square input"),
    ("wrong_cs231n_square.py", "maxpool2d", "pool-loop-exit-wrong-size",
     "output is wrong only with a non-square input"),
]


@pytest.mark.parametrize("file, kind, mistake_id, where", CASES,
                         ids=[f"{f.removesuffix('.py')}-{i}" for f, _, i, _ in CASES])
def test_a_real_mistake_in_cs231n_style_is_named_by_its_own_id(file: str, kind: str,
                                                               mistake_id: str,
                                                               where: str) -> None:
    found = [impl for impl in discover(load(EXAMPLES / file)) if impl.kind == kind]
    assert len(found) == 1 and found[0].style == "functions"
    report = check_implementation(found[0], **LIGHT)
    assert not report.passed
    assert named(report) == {mistake_id}, report.text()
    assert mistake_id in report.matches[MISTAKES[mistake_id].quantity], report.text()
    assert where in report.text(), report.text()


def test_every_function_in_the_wrong_files_is_right_but_for_its_mistakes() -> None:
    """The pairs a file gets right pass: each file's report names its mistakes only."""
    wrong = {(file, kind) for file, kind, _, _ in CASES}
    for file in sorted({file for file, _, _, _ in CASES}):
        for impl in discover(load(EXAMPLES / file)):
            report = check_implementation(impl, **LIGHT)
            assert report.passed == ((file, impl.kind) not in wrong), (file, report.text())


# ---- a class with a tied bias only, as real convolutions have, is checked on everything ----

def tied_only(variant: type) -> type:
    """``variant`` as most real convolutions are written: no bias or input_shape argument."""
    class TiedOnly(variant):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                     dtype=np.float64):
            super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                             dtype=dtype)
    TiedOnly.__name__ = f"TiedOnly{variant.__name__}"
    return TiedOnly


TIED = [m for m in of_kind("conv2d") if m.shows_on != "untied bias"]


@pytest.mark.parametrize("mistake", TIED, ids=[m.id for m in TIED])
def test_the_named_configurations_catch_a_tied_only_convolutions_mistake(mistake) -> None:
    report = check_layer(tied_only(mistake.variant), "conv2d", **LIGHT)
    assert not report.passed
    assert named(report) == {mistake.id}, report.text()


ABOUT_THE_BIAS = {"the plain first layer", "the plain first layer, not square", "untied bias",
                  "untied bias, batch > 1", "stride, padding and untied bias"}


def test_a_cs231n_convolution_is_checked_in_every_configuration_but_the_bias_modes() -> None:
    conv = next(impl for impl in discover(load(EXAMPLES / "cs231n_layers.py"))
                if impl.kind == "conv2d")
    report = check_implementation(conv, **LIGHT)
    assert report.passed, report.text()
    assert set(report.unsupported) == ABOUT_THE_BIAS     # b: (F,), PyTorch's tied bias


def test_the_named_configurations_hold_what_real_code_slips_through() -> None:
    conv = KINDS["conv2d"].named
    assert {c.name for c in conv if c.settings["bias"] != "tied"} == ABOUT_THE_BIAS
    tied = [c for c in conv if c.settings["bias"] == "tied"]
    assert any(c.settings["stride"] > 1 and c.settings["padding"] > 0 for c in tied)
    assert any(c.shape[2] > c.shape[3] for c in tied) and any(c.shape[2] < c.shape[3]
                                                             for c in tied)
    assert any(rows_over(c, None) and c.settings["padding"] > 0 for c in tied)
    first = next(c for c in conv if c.name == "the plain first layer")
    assert (first.settings["in_channels"], first.settings["kernel"],
            first.settings["bias"]) == (1, 3, None)
    pool = KINDS["maxpool2d"].named
    assert any(c.shape[2] > c.shape[3] for c in pool) and any(c.shape[2] < c.shape[3]
                                                             for c in pool)
