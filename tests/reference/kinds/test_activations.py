"""The sigmoid, tanh and leaky ReLU kinds: batteries with the inputs their mistakes need
(|x| of 800-1000, where exp overflows; slopes 0.01 and 0.2; exact zeros), passed by
scratchnet's layers (in test_check), the plain ones and CS231n-style functions; their
twins agree with scratchnet in float64 within the project's 1e-12 (to ~1e-16 in fact)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reference import compare, format_comparison
from reference.check.layer import check_implementation
from reference.check.styles import discover, load
from reference.kinds import KINDS
from scratchnet import AvgPool2D, Dense, Flatten, LeakyReLU, Sequential, Sigmoid, Tanh

EXAMPLES = Path(__file__).parents[1] / "examples"


def test_the_batteries_hold_what_the_mistakes_need() -> None:
    for kind in ("sigmoid", "tanh"):
        assert {"huge", "normal"} <= {c.draw for c in KINDS[kind].named}
    leaky = KINDS["leaky-relu"].named
    assert {c.settings.get("negative_slope", 0.01) for c in leaky} == {0.01, 0.2}
    assert "exact zeros" in {c.draw for c in leaky}
    pool = KINDS["avgpool2d"].named
    assert {c.settings["padding"] for c in pool} == {0, 1}
    assert any(c.settings["stride"] < c.settings["kernel"] for c in pool)      # overlap
    assert any(c.settings["stride"] > c.settings["kernel"] for c in pool)
    assert any(c.shape[2] != c.shape[3] for c in pool) and any(c.shape[2] % 2 for c in pool)


def test_cs231n_style_functions_pass_in_their_own_conventions() -> None:
    found = {impl.kind: impl for impl in discover(load(EXAMPLES / "cs231n_more.py"))}
    assert set(found) == {"dropout", "avgpool2d", "sigmoid", "tanh", "leaky-relu"}
    for kind in ("avgpool2d", "sigmoid", "tanh", "leaky-relu"):
        report = check_implementation(found[kind], random_configurations=2)
        assert report.passed, report.text()
    pool = check_implementation(found["avgpool2d"], random_configurations=0)
    assert set(pool.unsupported.values()) == {"CS231n's pool_param has no padding"}


@pytest.mark.parametrize("layer, x", [
    (Sigmoid(), np.array([[-1000.0, -745.0, -30.0, 0.0, 2.5, 40.0, 800.0]])),
    (Tanh(), np.array([[-1000.0, -20.0, -0.5, 0.0, 1e-8, 19.0, 1000.0]])),
    (LeakyReLU(0.2), np.array([[-3.0, -0.0, 0.0, 1e-300, 2.0, -1e-300, 5.0]])),
])
def test_compare_agrees_through_large_and_zero_values(layer, x) -> None:
    net = Sequential(("act1", layer), ("fc1", Dense(7, 3, rng=np.random.default_rng(0))))
    df = compare(net, x, np.array([1]))
    assert df["passed"].all(), format_comparison(df)


def test_compare_agrees_on_average_pooling_with_padding() -> None:
    net = Sequential(("pool1", AvgPool2D(3, 2, 1)), ("flat", Flatten()),
                     ("fc1", Dense(3 * 4 * 3, 5, rng=np.random.default_rng(2))))
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    df = compare(net, x, np.array([0, 4]))
    assert df["passed"].all(), format_comparison(df)
