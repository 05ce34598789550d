"""Dropout on the reference side: its twin (PyTorch's inverted dropout under the mask the
layer drew, so that ``to_torch``, ``compare`` and a lockstep of a network with Dropout
agree; the identity in eval mode) and its check (the output and gradient under the mask
read from the output, a new mask each call, the drop rate's Hoeffding test, eval mode).
float64 at the project's 1e-12: a right layer agrees to ~1e-16."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reference import check_layer, compare, format_comparison, to_torch
from reference.check.layer import check_implementation
from reference.check.styles import discover, load
from reference.kinds import KINDS
from reference.kinds.dropout import (
    DROP_RATE,
    FALSE_ALARM,
    LARGE,
    NEW_MASK,
    rate_bound,
    rate_tested,
    set_mode,
    under_its_mask,
)
from reference.mistakes import PLAIN
from scratchnet import Dense, Dropout, ReLU, Sequential


def network(p: float, seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(("fc1", Dense(6, 9, rng=rng)), ("relu1", ReLU()),
                      ("drop1", Dropout(p, rng=rng)), ("fc2", Dense(9, 4, rng=rng)))


@pytest.mark.parametrize("p", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_compare_agrees_on_a_network_with_dropout(p: float) -> None:
    net = network(p)
    x = np.random.default_rng(1).standard_normal((5, 6))
    df = compare(net, x, np.array([0, 3, 1, 2, 2]))
    assert df["passed"].all(), format_comparison(df)
    assert df["max_abs_err"].max() < 1e-13


def test_the_twin_applies_the_layers_mask_and_is_the_identity_in_eval_mode() -> None:
    net = network(0.5)
    x = np.random.default_rng(2).standard_normal((7, 6))
    twin = to_torch(net)
    y = net.forward(x)
    mask = net.layers["drop1"].mask
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), y, rtol=0,
                               atol=1e-13)
    net.eval()                                   # the layer in eval mode: the identity
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), net.forward(x),
                               rtol=0, atol=1e-13)
    net.train()
    twin.eval()                                  # the twin in eval mode: the identity too
    drop = twin.drop1
    h = torch.from_numpy(np.random.default_rng(3).standard_normal((7, 9)))
    assert torch.equal(drop(h), h)


def test_the_twin_says_when_the_layer_has_drawn_no_mask() -> None:
    twin = to_torch(Sequential(("drop1", Dropout(0.5))))
    with pytest.raises(RuntimeError, match="has drawn none yet: run the layer first"):
        twin(torch.zeros(2, 3, dtype=torch.float64))


# ---- the check: its procedure -----------------------------------------------------------

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("cls", [Dropout, PLAIN["dropout"]], ids=["scratchnet", "plain"])
def test_right_dropouts_pass_the_battery(cls) -> None:
    report = check_layer(cls, "dropout", random_configurations=4)
    assert report.passed, report.text()
    quantities = set(report.table["quantity"])
    assert {"output", "grad input", NEW_MASK, DROP_RATE, "eval output",
            "eval grad input"} == quantities


def test_the_battery_has_p_near_0_and_1_and_inputs_large_enough_for_the_rate() -> None:
    ps = {c.settings["p"] for c in KINDS["dropout"].named}
    assert {0.0, 0.05, 0.5, 0.95} <= ps
    large = [c for c in KINDS["dropout"].named if rate_tested(c)]
    assert {c.settings["p"] for c in large} == {0.05, 0.5, 0.95}


def test_the_rate_bound_is_hoeffdings_and_sees_a_rate_off_by_0_05() -> None:
    n = int(np.prod(LARGE))
    t = rate_bound(n)
    assert 2 * np.exp(-2 * n * t * t) == pytest.approx(FALSE_ALARM)   # false alarms: 1e-6
    assert t < 0.025 and 2 * np.exp(-2 * n * (0.05 - t) ** 2) < 1e-15  # misses: < 1e-15


class RateOff(PLAIN["dropout"]):
    """Drops with probability p + 0.05 (p - 0.05 above 0.5) and scales kept values right
    for p: a wrong rate only the drop rate's test sees."""

    def mask_for(self, x):
        return np.random.rand(*x.shape) >= self.p + (0.05 if self.p < 0.5 else -0.05)


def test_the_drop_rate_test_fails_a_layer_whose_rate_is_off_by_0_05() -> None:
    report = check_layer(RateOff, "dropout", random_configurations=0)
    assert not report.passed
    wrong = report.table[~report.table["agrees"].astype(bool)]
    assert set(wrong["quantity"]) == {DROP_RATE}, report.text()
    assert set(wrong["configuration"]) == {c.name for c in KINDS["dropout"].named
                                           if rate_tested(c)}


def test_under_its_mask_compares_with_pytorch_under_the_mask_drawn() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 40))
    keep = rng.random(x.shape) >= 0.3
    all_kept = x * (1 / 0.7)
    right = np.where(keep, all_kept, 0.0)
    np.testing.assert_array_equal(under_its_mask(right, x, keep, all_kept), all_kept)
    # A kept value scaled wrong, a dropped one given a value: both seen, never passed.
    for wrong in (np.where(keep, x, 0.0), np.where(keep, all_kept, x)):
        assert not np.allclose(under_its_mask(wrong, x, keep, all_kept), all_kept)
    one_off = right.copy()
    one_off[np.nonzero(keep)[0][0], np.nonzero(keep)[1][0]] += 1.0
    assert np.abs(under_its_mask(one_off, x, keep, all_kept) - all_kept).max() == \
        pytest.approx(1.0)
    # In eval mode nothing may be dropped: zeros are wrong there.
    eval_zeros = under_its_mask(np.zeros_like(x), x, np.zeros(x.shape, bool), x, masked=False)
    assert np.abs(eval_zeros - x).max() == np.abs(x).max()
    # A uniform mistake gives the same quantity whatever the mask.
    other = rng.random(x.shape) >= 0.3
    np.testing.assert_allclose(under_its_mask(np.where(keep, x, 0.0), x, keep, all_kept),
                               under_its_mask(np.where(other, x, 0.0), x, other, all_kept),
                               rtol=1e-15)


def test_eval_mode_is_set_by_eval_or_by_the_training_attribute() -> None:
    class NoEval:
        training = True

    layer = NoEval()
    set_mode(layer, training=False)
    assert layer.training is False
    scratchnet_layer = Dropout(0.5)
    set_mode(scratchnet_layer, training=False)
    assert scratchnet_layer.training is False


@pytest.mark.parametrize("example, convention", [("cs231n_more.py", "keeping"),
                                                 ("cs231n_dropout_drop_p.py", "dropping")])
def test_cs231n_dropout_functions_pass_with_their_p_inferred(example: str,
                                                             convention: str) -> None:
    impl = next(i for i in discover(load(EXAMPLES / example)) if i.kind == "dropout")
    assert impl.name == "dropout_forward / dropout_backward"
    assert f"p read as the probability of {convention} a value" in impl.conventions[0]
    report = check_implementation(impl, random_configurations=2)
    assert report.passed, report.text()
    assert f"probability of {convention}" in report.text()
