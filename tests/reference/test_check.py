"""reference.check_layer / check_network / assert_layer_correct: right layers pass, every
catalogued mistake is caught and named by its own id, and the report says where.

The battery compares in float64 under the project's one rule (reference/agreement.py,
1e-12 scaled): a right layer agrees with PyTorch to about 1e-15, and every catalogued
variant is off by far more (or raises) in the configurations its mistake needs. Finite
differences use their own rule (reference/finite_differences.py, 1e-7 scaled): right
layers stay within 0.1 of it over the battery.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from reference import MISTAKES, assert_layer_correct, check_layer, check_network
from reference.check import CHECKED_KINDS
from reference.check.battery import battery
from reference.check.report import COLUMNS
from reference.kinds import KINDS
from reference.mistakes import PLAIN, Mistake, substitute
from reference.mistakes.conv import (
    AssertStrideDivides,
    KernelNotFlippedInputGrad,
    PaddingIgnoredInputGrad,
    StrideIgnoredInputGrad,
)
from scratchnet import (
    Flatten,
    Sequential,
    seed_network,
)
from tests.reference import student_layers as student

STUDENTS = {"conv2d": student.StudentConv2D, "maxpool2d": student.StudentMaxPool2D,
            "dense": student.StudentDense, "relu": student.StudentReLU,
            "softmax-ce": student.StudentSoftmaxCrossEntropy}
SCRATCHNET = {k: KINDS[k].scratchnet for k in CHECKED_KINDS}
LIGHT = {"random_configurations": 0}     # the named configurations only


def named(report) -> set[str]:
    """Every mistake id the report names, over all quantities."""
    return {mistake_id for ids in report.matches.values() for mistake_id in ids}


# ---- right layers pass ----------------------------------------------------------------

@pytest.mark.parametrize("kind", STUDENTS)
def test_a_students_right_layer_passes_the_full_battery(kind: str) -> None:
    report = check_layer(STUDENTS[kind], kind)
    assert report.passed, report.text()
    assert report.diagnosis == [] and report.unsupported == {}
    assert report.table["agrees"].all()             # every row compared, none skipped
    assert "agrees with PyTorch in all" in report.verdict
    # Finite differences for every gradient where there is a derivative (not at ties or
    # exact zeros), and they agree.
    differentiable = {c.name: c.differentiable for c in battery(kind)}
    gradients = report.table[report.table["quantity"].str.startswith("grad")]
    assert (gradients["fd_agrees"].notna()
            == gradients["configuration"].map(differentiable)).all()
    assert report.table["fd_agrees"].dropna().all()


@pytest.mark.parametrize("kind", CHECKED_KINDS)
@pytest.mark.parametrize("origin", ["scratchnet", "plain"])
def test_scratchnets_and_the_plain_classes_pass(kind: str, origin: str) -> None:
    cls = SCRATCHNET[kind] if origin == "scratchnet" else PLAIN[kind]
    report = check_layer(cls, kind, **LIGHT)
    assert report.passed, report.text()


def test_the_table_has_a_row_per_configuration_and_quantity() -> None:
    report = check_layer(student.StudentDense, "dense")
    configs = battery("dense")
    assert list(report.table.columns) == COLUMNS
    assert len(report.table) == 4 * len(configs)            # output, 3 gradients
    assert list(report.table["configuration"].unique()) == [c.name for c in configs]
    assert set(report.table["quantity"]) == {"output", "grad input", "grad weight",
                                             "grad bias"}
    assert (report.table["max_abs_err"] <= report.table["tolerance"]).all()


def test_the_battery_has_the_configurations_the_issue_asks_for() -> None:
    conv = battery("conv2d")
    assert {c.shape[0] for c in conv} >= {1, 2}                        # batch 1 and more
    assert {c.settings["stride"] for c in conv} >= {1, 2, 3}
    assert {c.settings["padding"] for c in conv} >= {0, 1, 2}
    assert {c.settings["bias"] for c in conv} == {"tied", "untied", None}
    assert {c.shape[2] % 2 for c in conv} == {0, 1}                   # odd and even sizes
    assert any(not c.contiguous for c in conv)
    pool_draws = {c.draw for c in KINDS["maxpool2d"].named}
    assert {"ties", "zero background"} <= pool_draws
    assert "exact zeros" in {c.draw for c in KINDS["relu"].named}
    assert {"sure and wrong", "equal", "shifted"} <= {c.draw for c in KINDS["softmax-ce"].named}
    assert battery("conv2d", 3, seed=1)[-3:] != battery("conv2d", 3, seed=2)[-3:]


# ---- every catalogued mistake is caught and named --------------------------------------

CHECKED = [m for m in MISTAKES.values() if m.kind in CHECKED_KINDS]


def test_every_layer_and_loss_mistake_is_in_the_parametrization() -> None:
    kinds = {m.kind for m in MISTAKES.values()} - set(CHECKED_KINDS)
    assert kinds == {"clip"}          # clipping is a function of the gradients, not a kind
    assert len(CHECKED) == sum(m.kind in CHECKED_KINDS for m in MISTAKES.values()) >= 20


@pytest.mark.parametrize("mistake", CHECKED, ids=[m.id for m in CHECKED])
def test_a_catalogued_variant_is_caught_and_named_by_its_own_id(mistake: Mistake) -> None:
    report = check_layer(mistake.variant, mistake.kind, **LIGHT)
    assert not report.passed
    assert named(report) == {mistake.id}, report.text()
    assert mistake.id in report.matches[mistake.quantity], report.text()   # its quantity
    assert f"`{mistake.id}`" in report.text()


# The full default battery, one mistake per kind, in code written apart from the
# catalogue's variants where there is some (tests/reference/student_layers.py).
@pytest.mark.parametrize("cls, kind, mistake_id, quantity, where", [
    (student.StudentConv2DUnflipped, "conv2d", "conv-kernel-not-flipped-input-grad",
     "grad input", "only with a kernel larger than 1x1"),
    (student.StudentMaxPoolAllTies, "maxpool2d", "pool-grad-to-all-ties", "grad input",
     "only with ties"),
    (MISTAKES["dense-bias-grad-first-example"].variant, "dense",
     "dense-bias-grad-first-example", "grad bias", "only with batch > 1"),
    (MISTAKES["relu-grad-one-at-zero"].variant, "relu", "relu-grad-one-at-zero",
     "grad input", "only with exact zeros"),
    (MISTAKES["ce-log-of-softmax"].variant, "softmax-ce", "ce-log-of-softmax", "loss",
     "only with a class far below the best"),
])
def test_the_full_battery_names_the_mistake_and_where(cls, kind: str, mistake_id: str,
                                                      quantity: str, where: str) -> None:
    report = check_layer(cls, kind)
    assert report.matches == {quantity: [mistake_id]}, report.text()
    assert f"{quantity} is wrong {where}" in report.text()
    assert f"{kind} {quantity} matches `{mistake_id}`" in report.text()


def test_the_diagnosis_says_forward_or_backward() -> None:
    flipped = check_layer(MISTAKES["conv-kernel-flipped-forward"].variant, "conv2d", **LIGHT)
    assert "output is wrong only with a kernel larger than 1x1 (the forward pass)" in \
        flipped.text()
    # Its backward pass is right for PyTorch's forward, so finite differences of its own
    # forward disagree with gradients that agree with PyTorch: said apart.
    assert "agrees with PyTorch but not with finite differences" in flipped.text()
    bias = check_layer(MISTAKES["conv-bias-grad-averaged"].variant, "conv2d", **LIGHT)
    assert "(the backward pass: a parameter gradient, grads['bias'])" in bias.text()
    assert "only with batch > 1" in bias.text()
    stride = check_layer(MISTAKES["conv-stride-ignored-input-grad"].variant, "conv2d", **LIGHT)
    assert "grad input is wrong only with stride > 1" in stride.text()


class Doubled(student.StudentDense):
    """A mistake the catalogue does not hold: the weight gradient twice over."""

    def backward(self, grad_y):
        grad_x = super().backward(grad_y)
        self.grads["weight"] = 2 * self.grads["weight"]
        return grad_x


def test_a_mistake_not_in_the_catalogue_is_said_to_be_none_of_them() -> None:
    report = check_layer(Doubled, "dense", **LIGHT)
    assert report.matches == {"grad weight": []}
    text = report.text()
    assert "grad weight is wrong in every configuration" in text
    assert "It matches none of the 4 catalogued dense mistakes." in text
    assert "finite differences disagree): the error is in the backward pass" in text


# ---- what a class does not take, and what goes wrong in it -----------------------------

def test_configurations_a_class_does_not_take_are_reported_not_checked() -> None:
    report = check_layer(student.HomeworkConv2D, "conv2d")
    assert report.passed, report.text()
    assert 0 < len(report.unsupported) < len(battery("conv2d"))
    reasons = set(report.unsupported.values())
    assert "it takes no stride argument" in reasons
    assert any(r.startswith("its constructor raised ValueError: the homework's layer has "
                            "the seed's untied bias only") for r in reasons)
    assert "Not supported by it:" in report.text()
    unsupported_rows = report.table["status"].str.startswith("not supported by this class")
    assert report.table.loc[unsupported_rows, "agrees"].isna().all()
    assert report.table.loc[~unsupported_rows, "agrees"].all()


class TakesNothing:
    """A dense layer whose constructor takes no argument at all."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        return x

    def backward(self, grad_y):
        return grad_y


def test_a_class_that_takes_no_configuration_fails() -> None:
    report = check_layer(TakesNothing, "dense", **LIGHT)
    assert not report.passed
    assert report.status == "did not run"
    assert report.verdict.startswith("TakesNothing (dense) DID NOT RUN: it takes none of the 6")


class Float32Dense(student.StudentDense):
    def __init__(self, in_features, out_features):
        super().__init__(in_features, out_features)
        self.params = {k: v.astype(np.float32) for k, v in self.params.items()}


class BackwardRaises(student.StudentReLU):
    def backward(self, grad_y):
        raise RuntimeError("not written yet")


class ForgetsBias(student.StudentDense):
    def backward(self, grad_y):
        grad_x = super().backward(grad_y)
        del self.grads["bias"]
        return grad_x


@pytest.mark.parametrize("cls, kind, status", [
    (Float32Dense, "dense", "params['weight'] is float32: the check runs in float64"),
    (BackwardRaises, "relu", "backward raised RuntimeError: not written yet"),
    (ForgetsBias, "dense", "grads has no 'bias' after backward"),
])
def test_what_goes_wrong_in_a_class_is_its_status(cls, kind: str, status: str) -> None:
    report = check_layer(cls, kind, **LIGHT)
    assert not report.passed
    assert report.table["status"].str.startswith(status).any(), report.table["status"]
    assert status in report.text()


def test_a_class_without_backward_or_an_unknown_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="is not a class"):
        check_layer(object(), "relu")
    class NoBackward:
        def forward(self, x):
            return x
    with pytest.raises(TypeError, match="NoBackward has no backward method: a relu needs "
                                        r"forward\(x\) and backward\(grad_y\)"):
        check_layer(NoBackward, "relu")
    with pytest.raises(ValueError, match="unknown kind 'conv3d': expected one of conv2d"):
        check_layer(student.StudentReLU, "conv3d")


def test_assert_layer_correct_raises_with_the_verdict_and_diagnosis() -> None:
    assert assert_layer_correct(student.StudentReLU, "relu", **LIGHT).passed
    variant = MISTAKES["relu-grad-from-output-sign"].variant
    with pytest.raises(AssertionError) as caught:
        assert_layer_correct(variant, "relu", **LIGHT)
    assert str(caught.value) == check_layer(variant, "relu", **LIGHT).text()
    assert "`relu-grad-from-output-sign`" in str(caught.value)


def test_the_json_report_is_valid_json_with_every_row() -> None:
    report = check_layer(MISTAKES["softmax-no-max-shift"].variant, "softmax-ce", **LIGHT)
    data = json.loads(report.to_json())       # strict JSON: no NaN or Infinity literals
    assert data["passed"] is False and data["kind"] == "softmax-ce"
    assert data["matches"]["loss"] == ["softmax-no-max-shift"]
    assert len(data["rows"]) == len(report.table)
    assert "inf" in {row["max_abs_err"] for row in data["rows"]}   # an infinite loss
    assert data["verdict"] == report.verdict and data["diagnosis"] == report.diagnosis


# ---- a whole network ------------------------------------------------------------------

def digit_batch(n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    draw = np.random.default_rng(4)
    x = np.where(draw.random((n, 1, 28, 28)) < 0.2, draw.random((n, 1, 28, 28)), 0.0)
    return x, draw.integers(0, 10, n)


def students_network(conv: type = student.StudentConv2D) -> Sequential:
    np.random.seed(0)      # the student layers draw their weights from NumPy's global state
    return Sequential(conv(1, 2, 5, stride=2), student.StudentReLU(),
                      student.StudentMaxPool2D(2), Flatten(), student.StudentDense(72, 10))


def test_check_network_passes_a_network_of_students_layers() -> None:
    report = check_network(students_network(), *digit_batch())
    assert report.passed, report.text()
    assert report.matches == [] and "agree with PyTorch" in report.text()


def test_check_network_names_the_mistake_of_the_first_divergent_layer() -> None:
    report = check_network(students_network(student.StudentConv2DUnflipped), *digit_batch())
    assert report.first_divergence == "conv1 grad input"
    assert report.matches == ["conv-kernel-not-flipped-input-grad"]
    assert "conv1 (StudentConv2DUnflipped): grad input is wrong on this batch" in report.text()


IN_NETWORK = [m for m in MISTAKES.values() if m.in_network is not None]


@pytest.mark.parametrize("mistake", IN_NETWORK, ids=[m.id for m in IN_NETWORK])
def test_check_network_names_a_variant_in_the_seed_network(mistake: Mistake) -> None:
    net = seed_network("full", seed=0)
    net.layers[mistake.in_network] = substitute(net.layers[mistake.in_network],
                                                mistake.variant)
    report = check_network(net, *digit_batch(4))
    assert report.first_divergence == f"{mistake.in_network} {mistake.quantity}"
    assert report.matches == [mistake.id], report.text()


def test_check_network_in_float32_names_the_mistake_within_float32s_tolerance() -> None:
    net = seed_network("full", dtype=np.float32, seed=0)
    mistake = MISTAKES["dense-bias-grad-averaged"]
    net.layers["fc2"] = substitute(net.layers["fc2"], mistake.variant)
    x, labels = digit_batch(4)
    report = check_network(net, x.astype(np.float32), labels)
    assert report.first_divergence == f"fc2 {mistake.quantity}"   # grad weight
    assert report.matches == [mistake.id], report.text()


# ---- one quantity, two causes ----------------------------------------------------------

class StrideAndPaddingIgnored(StrideIgnoredInputGrad, PaddingIgnoredInputGrad):
    """Two mistakes in one input gradient, each showing in its own configurations."""


class AssertsAndUnflipped(AssertStrideDivides, KernelNotFlippedInputGrad):
    """An assert that raises where the stride leaves rows over, and eq. (4) without R180
    everywhere else."""


def test_two_mistakes_in_one_quantity_are_each_named_where_they_show() -> None:
    report = check_layer(StrideAndPaddingIgnored, "conv2d", **LIGHT)
    assert report.matches["grad input"] == ["conv-stride-ignored-input-grad",
                                            "conv-padding-ignored-input-grad"]
    text = report.text()
    assert "only with padding > 0 (the backward pass: the input gradient)" in text
    assert "may be acting together" in text          # where both show, neither alone does


def test_an_error_and_wrong_numbers_are_two_findings() -> None:
    report = check_layer(AssertsAndUnflipped, "conv2d", **LIGHT)
    assert report.status == "wrong"
    causes = [f for f in report.findings if f.quantity in ("output", "grad input")]
    assert {f.error is None for f in causes} == {True, False}
    assert named(report) == {"conv-assert-stride-divides",
                             "conv-kernel-not-flipped-input-grad"}
