"""Real students' mistakes, in the styles real code is written in, are named by their own
catalogue entries (issue 21, items 4 and 6).

``tests/reference/examples/`` holds CS231n-convention functions written for these tests
(``right_cs231n.py`` and, each with one or two of the real mistakes, ``wrong_cs231n*.py``).
Until ``scratchnet check`` takes such functions itself, ``cs231n_layer`` below wraps a
forward/backward pair as the layer protocol, in the course's conventions (``conv_param``,
``pool_param``, an affine weight of shape ``(D, M)``, ``softmax_loss(x, y) -> (loss,
dx)``); the check then runs the named configurations only (no random ones), which must be
enough to catch every mistake. Tolerances: the project's one rule (float64, 1e-12 scaled),
which the right file meets to about 1e-15.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference import MISTAKES, check_layer
from reference.kinds import KINDS
from reference.kinds.conv2d import rows_over
from reference.mistakes import of_kind
from tests.reference.examples import (
    right_cs231n,
    wrong_cs231n,
    wrong_cs231n_asserts,
    wrong_cs231n_python2,
    wrong_cs231n_square,
)

LIGHT = {"random_configurations": 0}     # the named configurations only


def cs231n_layer(module, kind: str) -> type:
    """A protocol class around ``module``'s CS231n functions of ``kind`` (tied bias only,
    as the course's ``b: (F,)``)."""
    if kind == "softmax-ce":
        class Loss:
            def forward(self, logits, labels):
                loss, self.dx = module.softmax_loss(logits, labels)
                return loss

            def backward(self):
                return self.dx
        return Loss
    if kind == "relu":
        class ReLU:
            def __init__(self):
                self.params, self.grads = {}, {}

            def forward(self, x):
                out, self.cache = module.relu_forward(x)
                return out

            def backward(self, dout):
                return module.relu_backward(dout, self.cache)
        return ReLU
    if kind == "maxpool2d":
        class MaxPool:
            def __init__(self, kernel_size, stride=None):
                self.params, self.grads = {}, {}
                self.pool_param = {"pool_height": kernel_size, "pool_width": kernel_size,
                                   "stride": stride or kernel_size}

            def forward(self, x):
                out, self.cache = module.max_pool_forward_naive(x, self.pool_param)
                return out

            def backward(self, dout):
                return module.max_pool_backward_naive(dout, self.cache)
        return MaxPool
    if kind == "dense":
        class Affine:                       # PyTorch's weight (out, in) is the course's w.T
            def __init__(self, in_features, out_features):
                self.params = {"weight": np.zeros((out_features, in_features)),
                               "bias": np.zeros(out_features)}
                self.grads = {}

            def forward(self, x):
                out, self.cache = module.affine_forward(x, self.params["weight"].T,
                                                        self.params["bias"])
                return out

            def backward(self, dout):
                dx, dw, db = module.affine_backward(dout, self.cache)
                self.grads = {"weight": dw.T, "bias": db}
                return dx
        return Affine

    class Conv:
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
            self.conv_param = {"stride": stride, "pad": padding}
            self.params = {"weight": np.zeros((out_channels, in_channels, kernel_size,
                                               kernel_size)),
                           "bias": np.zeros(out_channels)}
            self.grads = {}

        def forward(self, x):
            out, self.cache = module.conv_forward_naive(x, self.params["weight"],
                                                        self.params["bias"], self.conv_param)
            return out

        def backward(self, dout):
            dx, dw, db = module.conv_backward_naive(dout, self.cache)
            self.grads = {"weight": dw, "bias": db}
            return dx
    return Conv


def named(report) -> set[str]:
    return {mistake_id for ids in report.matches.values() for mistake_id in ids}


@pytest.mark.parametrize("kind", ["conv2d", "maxpool2d", "dense", "relu", "softmax-ce"])
def test_the_right_cs231n_functions_pass(kind: str) -> None:
    report = check_layer(cs231n_layer(right_cs231n, kind), kind, **LIGHT)
    assert report.passed, report.text()
    if kind == "conv2d":         # tied bias only: every configuration but the bias modes'
        assert set(report.unsupported) == {"the plain first layer", "untied bias",
                                           "untied bias, batch > 1",
                                           "stride, padding and untied bias"}


CASES = [   # (file, kind, the mistake it makes, where the report says it is)
    (wrong_cs231n, "conv2d", "conv-input-grad-cut-empty-without-padding",
     "grad input is wrong only with no padding"),
    (wrong_cs231n, "maxpool2d", "pool-overlap-overwrites",
     "grad input is wrong only with overlapping windows"),
    (wrong_cs231n_python2, "conv2d", "conv-size-true-division",
     "It did not run in every configuration: forward raised TypeError: 'float' object "
     "cannot be interpreted as an integer"),
    (wrong_cs231n_python2, "softmax-ce", "ce-log-of-softmax",
     "loss is wrong only with a class far below the best"),
    (wrong_cs231n_asserts, "conv2d", "conv-assert-stride-divides",
     "It did not run only with sizes the stride does not divide"),
    (wrong_cs231n_asserts, "dense", "dense-bias-grad-averaged",
     "grad weight is wrong only with batch > 1"),
    (wrong_cs231n_square, "conv2d", "conv-assumes-square-input",
     "output is wrong only with a non-square input"),
    (wrong_cs231n_square, "maxpool2d", "pool-loop-exit-wrong-size",
     "output is wrong only with a non-square input"),
]


@pytest.mark.parametrize("module, kind, mistake_id, where", CASES,
                         ids=[f"{m.__name__.rsplit('.', 1)[1]}-{i}" for m, _, i, _ in CASES])
def test_a_real_mistake_in_cs231n_style_is_named_by_its_own_id(module, kind: str,
                                                               mistake_id: str,
                                                               where: str) -> None:
    report = check_layer(cs231n_layer(module, kind), kind, **LIGHT)
    assert not report.passed
    assert named(report) == {mistake_id}, report.text()
    assert mistake_id in report.matches[MISTAKES[mistake_id].quantity], report.text()
    assert where in report.text(), report.text()


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


def test_the_named_configurations_hold_what_real_code_slips_through() -> None:
    conv = KINDS["conv2d"].named
    about_the_bias = {"the plain first layer", "untied bias", "untied bias, batch > 1",
                      "stride, padding and untied bias"}
    assert {c.name for c in conv if c.settings["bias"] != "tied"} == about_the_bias
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
