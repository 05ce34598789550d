"""The optimizer kinds (reference/kinds/optimizer.py, sgd.py, adam.py, rmsprop.py): anyone's
optimizer stepped beside torch.optim, in the class style and CS231n's update rules, and its
mistake named.

The parameters after steps 1, 2, 10 and 50 are compared under the project's one rule
(reference/agreement.py, float64: 1e-12 x max(1, |value|)): scratchnet's optimizers do
torch's operations in torch's order and agree to ~1e-15; CS231n's rules round in another
order (the velocity holding the learning rate, eps added to sqrt(v / (1 - beta2^t))) and
still agree to ~4e-15 after 50 steps. Every catalogued variant is off by 1e-6 or more.
(That each catalogued variant is named by its own id is
tests/reference/test_check.py's parametrization over every checked kind's mistakes.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reference import MISTAKES, check_layer
from reference.check import check_implementation, discover, load, protocol_problem
from reference.kinds import KINDS
from reference.kinds.optimizer import STEPS
from scratchnet.optim import SGD, Adam, RMSprop

EXAMPLES = Path(__file__).parent / "examples"
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}
LIGHT = {"random_configurations": 0}


def named(report) -> set[str]:
    return {mistake_id for ids in report.matches.values() for mistake_id in ids}


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_scratchnets_optimizer_passes_the_full_battery(kind: str) -> None:
    report = check_layer(OPTIMIZERS[kind], kind)
    assert report.passed, report.text()
    assert report.unsupported == {} and report.notes == []
    assert list(report.table["quantity"].unique()) == [
        f"parameters after step {t}" for t in STEPS]
    assert report.table["agrees"].all()
    assert "finite differences" not in report.verdict       # an optimizer has none


def test_the_battery_names_what_the_mistakes_need() -> None:
    names = {kind: {c.name for c in KINDS[kind].named} for kind in OPTIMIZERS}
    assert {"momentum", "nesterov", "dampening", "momentum and weight decay"} <= names["sgd"]
    assert {"large eps", "small gradients", "amsgrad", "weight decay"} <= names["adam"]
    assert {"momentum", "centered", "large eps"} <= names["rmsprop"]
    assert STEPS == (1, 2, 10, 50)


def test_the_amsgrad_configuration_shows_the_maximum() -> None:
    """An Adam that ignores amsgrad is wrong in the 'amsgrad' configuration only: its
    shrinking gradients make the second moment fall, so the maximum differs from it."""
    class AdamIgnoringAmsgrad(Adam):
        def __init__(self, net, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                     amsgrad=False):
            super().__init__(net, lr, betas, eps, weight_decay)

    report = check_layer(AdamIgnoringAmsgrad, "adam", **LIGHT)
    assert not report.passed
    wrong = report.table[report.table["agrees"].eq(False)]
    assert set(wrong["configuration"]) == {"amsgrad"}
    assert "parameters after step 50 is wrong only with AMSGrad" in report.text()


def test_the_diagnosis_names_the_mistake_and_where() -> None:
    report = check_layer(MISTAKES["sgd-weight-decay-after-momentum"].variant, "sgd")
    assert named(report) == {"sgd-weight-decay-after-momentum"}, report.text()
    assert ("parameters after step 2 is wrong only with momentum and weight decay (the "
            "update step() makes)") in report.text()


def test_the_cs231n_update_rules_pass_in_their_conventions() -> None:
    found = discover(load(EXAMPLES / "cs231n_optim.py"))
    assert [(impl.name, impl.kind) for impl in found] == [
        ("sgd", "sgd"), ("sgd_momentum", "sgd"), ("rmsprop", "rmsprop"), ("adam", "adam")]
    for impl in found:
        report = check_implementation(impl)
        assert report.passed, report.text()
        assert any("one config per parameter" in c for c in report.conventions)
        # What CS231n's rules have not (weight decay, Nesterov, centering, AMSGrad) is
        # named as not theirs; the rest is checked.
        assert report.unsupported and len(report.unsupported) < report.table[
            "configuration"].nunique()
        assert "it takes no weight_decay argument" in report.unsupported.values()
    momentum = check_implementation(found[1])
    assert "momentum" in set(momentum.table["configuration"][momentum.table["agrees"].eq(True)])


WRONG_RULES = {   # mistake id -> the rule, and what changes in the right one
    # the step count starting at 1, incremented before use (an older config's default)
    "adam-step-count-from-one": ("adam", [("setdefault(\"t\", 0)", "setdefault(\"t\", 1)")]),
    # the cache a local variable, never given back in the config
    "rmsprop-cache-not-kept": ("rmsprop", [('config["cache"] = decay', "cache = decay"),
                                           ('np.sqrt(config["cache"])', "np.sqrt(cache)")]),
    # the velocity holds the learning rate, and the step multiplies by it again
    "sgd-lr-applied-twice": ("sgd_momentum", [("return w + v, config",
                                               'return w + config["learning_rate"] * v, '
                                               "config")]),
}


@pytest.mark.parametrize("mistake_id", WRONG_RULES)
def test_a_wrong_cs231n_rule_is_named(mistake_id: str, tmp_path: Path) -> None:
    rule, changes = WRONG_RULES[mistake_id]
    source = (EXAMPLES / "cs231n_optim.py").read_text()
    for right, wrong in changes:
        assert source.count(right) == 1, right
        source = source.replace(right, wrong)
    (tmp_path / "rules.py").write_text(source)
    impl = next(i for i in discover(load(tmp_path / "rules.py")) if i.name == rule)
    report = check_implementation(impl, **LIGHT)
    assert named(report) == {mistake_id}, report.text()


def test_an_optimizer_needs_step_and_must_update_in_place() -> None:
    class NoStep:
        def __init__(self, net, lr):
            pass

    assert protocol_problem(NoStep, "sgd") == (
        "NoStep has no step method: a sgd needs a constructor (net, lr=..., ...) and step(), "
        "which updates the arrays of net.named_params() in place from those of "
        "net.named_grads() (see scratchnet.optim.HasParams)")

    class Rebinds:                                   # p = p - lr * g: a new array each step
        def __init__(self, net, lr):
            self.net, self.lr = net, lr

        def step(self):
            params, grads = self.net.named_params(), self.net.named_grads()
            for key in params:
                params[key] = params[key] - self.lr * grads[key]

    report = check_layer(Rebinds, "sgd", **LIGHT)
    assert report.status == "did not run"
    assert "step() left the parameters as they were" in report.verdict


def test_a_step_that_raises_or_writes_into_the_gradients_is_reported() -> None:
    class Raises(SGD):
        def step(self):
            if self.steps == 1:
                raise FloatingPointError("overflow")
            super().step()

    report = check_layer(Raises, "sgd", **LIGHT)
    assert report.status == "did not run"            # step 1 is right, then it raised
    assert "step raised FloatingPointError: overflow" in report.text()

    class DecaysInPlace(SGD):                        # g += wd * p, into the network's array
        def step(self):
            for p, g in zip(self.net.named_params().values(),
                            self.net.named_grads().values(), strict=True):
                g += self.weight_decay * p
            weight_decay, self.weight_decay = self.weight_decay, 0.0
            super().step()
            self.weight_decay = weight_decay

    report = check_layer(DecaysInPlace, "sgd", **LIGHT)
    assert report.passed, report.text()
    assert any("changes the gradient arrays" in note for note in report.notes)
    assert np.isfinite(report.table["max_abs_err"]).all()
