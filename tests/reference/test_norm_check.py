"""The batch norm and layer norm checks (reference/kinds/batchnorm.py, layernorm.py): their
batteries, the batch norm procedure (training steps, running statistics, eval mode), the
exact references on a large mean, and CS231n's functions checked in their own conventions.

Everything is float64 under the project's one rule (1e-12 scaled): right implementations
agree with PyTorch to about 1e-15. Where PyTorch's CPU kernel is inexact (a mean of 1e4
with a variance of 1e-8: it loses about 1e-10), the check's reference is PyTorch on the
input less the exact offset, and a test below shows that this reference is the exact value
and that PyTorch on the input itself is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference import MISTAKES, check_layer
from reference.agreement import agree, assert_agree
from reference.check import check_implementation, discover, load
from reference.check.run import reference_run
from reference.kinds import KINDS, batchnorm
from reference.kinds.data import OFFSET
from scratchnet import BatchNorm1D

EXAMPLES = Path(__file__).parent / "examples"
LIGHT = {"random_configurations": 0}
NORM_KINDS = ("batchnorm1d", "batchnorm2d", "layernorm")


def test_the_batteries_have_what_the_issue_asks_for() -> None:
    bn1d, bn2d = KINDS["batchnorm1d"].named, KINDS["batchnorm2d"].named
    for named in (bn1d, bn2d, KINDS["layernorm"].named):
        assert batchnorm.LARGE_MEAN in {c.draw for c in named}
        assert any(not c.contiguous for c in named)
    assert {len(c.shape) for c in bn1d} == {2, 3}                     # (N, D) and (N, C, L)
    assert 2 in {c.shape[0] for c in bn1d} and 1 in {c.shape[0] for c in bn2d}
    assert {c.settings["momentum"] for c in bn1d} >= {0.1, 0.3}
    data, reference = reference_run("batchnorm1d", bn1d[0], np.random.default_rng(0))
    assert list(reference) == [
        "output", "grad input", "grad weight", "grad bias",
        *(f"running {s} after step {k}" for k in range(1, batchnorm.STEPS + 1)
          for s in ("mean", "var")),
        "eval output", "eval grad input", "eval grad weight", "eval grad bias"]
    # Each later batch is shifted, so the running mean has to follow it.
    assert data.extra["batch 3"].mean() - data.x.mean() > 1.5


def exact_batchnorm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Training-mode batch norm in extended precision, rounded at the end."""
    axes = (0, *range(2, x.ndim))
    shape = (1, -1, *[1] * (x.ndim - 2))
    xl = x.astype(np.longdouble)
    mean = xl.mean(axis=axes, keepdims=True)
    var = ((xl - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (xl - mean) / np.sqrt(var + np.longdouble(1e-5)) * weight.reshape(shape) + \
        bias.reshape(shape)
    return y.astype(np.float64)


@pytest.mark.parametrize("kind", ["batchnorm1d", "batchnorm2d"])
def test_the_large_mean_reference_is_exact_where_pytorch_is_not(kind: str) -> None:
    config = next(c for c in KINDS[kind].named if c.draw == batchnorm.LARGE_MEAN)
    data, reference = reference_run(kind, config, np.random.default_rng(3))
    assert np.abs(data.x - OFFSET).max() < 1e-3 and data.x.var(axis=0).max() < 1e-7
    weight, bias = data.weights["weight"], data.weights["bias"]
    exact = exact_batchnorm(data.x, weight, bias)
    assert_agree(reference["output"], exact, np.float64, "the check's reference")
    on_x = F.batch_norm(torch.from_numpy(data.x), None, None, torch.from_numpy(weight),
                        torch.from_numpy(bias), training=True).numpy()
    assert not agree(on_x, exact, np.float64)        # why the reference shifts the input


@pytest.mark.parametrize("kind", NORM_KINDS)
def test_scratchnets_layers_pass_the_full_battery(kind: str) -> None:
    report = check_layer(KINDS[kind].scratchnet, kind)
    assert report.passed, report.text()
    assert report.table["agrees"].all()               # every row compared, none skipped
    assert report.table["fd_agrees"].dropna().all() and report.table["fd_agrees"].notna().any()


class EvalByAttribute:
    """A batch norm without ``eval()``: the check switches it with ``training = False``."""

    kind = "batchnorm1d"

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.inner = BatchNorm1D(num_features, eps, momentum)
        self.params, self.grads, self.buffers = (self.inner.params, self.inner.grads,
                                                 self.inner.buffers)
        self.training = True

    def forward(self, x):
        self.inner.training = self.training
        return self.inner.forward(x)

    def backward(self, grad_y):
        return self.inner.backward(grad_y)


def test_a_class_without_eval_is_switched_by_its_training_attribute() -> None:
    assert not hasattr(EvalByAttribute, "eval")
    assert check_layer(EvalByAttribute, "batchnorm1d", **LIGHT).passed


def test_a_class_without_buffers_is_told_where_the_running_statistics_go() -> None:
    class NoBuffers(EvalByAttribute):
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            super().__init__(num_features, eps, momentum)
            del self.buffers

    report = check_layer(NoBuffers, "batchnorm1d", **LIGHT)
    assert not report.passed
    assert "buffers has no 'running_mean' after a training forward" in report.text()


@pytest.mark.parametrize("mistake_id, quantity, where", [
    ("bn1d-reshape-without-transpose", "output", "only with (N, C, L) input"),
    ("bn2d-running-var-biased", "running var after step 1", "in every configuration"),
    ("ln-last-axis-only", "output", "only with more than one normalised axis"),
])
def test_the_full_battery_names_the_mistake_and_where(mistake_id: str, quantity: str,
                                                      where: str) -> None:
    mistake = MISTAKES[mistake_id]
    report = check_layer(mistake.variant, mistake.kind)
    assert report.matches[quantity] == [mistake_id], report.text()
    assert f"{quantity} is wrong {where}" in report.text()


# ---- CS231n's functions, in their own conventions ----------------------------------------

def test_cs231n_norm_functions_are_found_and_pass_in_their_conventions() -> None:
    found = discover(load(EXAMPLES / "cs231n_norm.py"))
    assert [(impl.name, impl.kind) for impl in found] == [
        ("batchnorm_forward / batchnorm_backward", "batchnorm1d"),
        ("batchnorm_forward / batchnorm_backward_alt", "batchnorm1d"),
        ("spatial_batchnorm_forward / spatial_batchnorm_backward", "batchnorm2d"),
        ("layernorm_forward / layernorm_backward", "layernorm"),
    ]
    for impl in found:
        report = check_implementation(impl, **LIGHT)
        assert report.status == "passed", report.text()
    text = check_implementation(found[0], **LIGHT).text()
    assert "bn_param['momentum'] is the weight of the old running value" in text
    assert "its running variance is updated with the biased batch variance" in text
    # Eval mode's gradients are not the assignment's: said, not compared.
    eval_grads = check_implementation(found[2], **LIGHT).table.query(
        "quantity == 'eval grad input'")
    assert eval_grads["status"].str.startswith("not compared: eval mode is checked in its "
                                               "forward pass only").all()


def edited(tmp_path: Path, old: str, new: str) -> list:
    """The example file with ``old`` replaced by ``new``, its implementations found."""
    source = (EXAMPLES / "cs231n_norm.py").read_text()
    assert old in source
    (tmp_path / "edited.py").write_text(source.replace(old, new))
    return discover(load(tmp_path / "edited.py"))


def test_cs231n_batchnorm_in_pytorchs_convention_is_wrong_in_its_own(tmp_path: Path) -> None:
    """PyTorch's unbiased running update is a mistake in CS231n's convention (the biased
    one): the check compares with what that convention expects."""
    found = edited(tmp_path, "(1 - momentum) * var", "(1 - momentum) * var * len(x) / (len(x) - 1)")
    report = check_implementation(found[0], **LIGHT)
    assert report.status == "wrong"
    assert set(report.matches) == {*(f"running var after step {k}" for k in (1, 2, 3)),
                                   "eval output"}
    assert "running var after step 1 is wrong in every configuration" in report.text()


def test_cs231n_batchnorm_that_ignores_the_mode_is_wrong_in_eval(tmp_path: Path) -> None:
    found = edited(tmp_path, 'if mode == "train":', 'if True:')
    report = check_implementation(found[0], **LIGHT)
    assert list(report.matches) == ["eval output"], report.text()
    assert "eval output is wrong in every configuration (the forward pass, in eval mode)" in \
        report.text()
