"""scratchnet.optim against torch.optim, step by step.

Two comparisons run every configuration of ``CASES`` (each optimizer's options in every
combination). ``test_matches_torch_on_a_network``: 50 steps on the seed network, through
the optimizer's flat path and ``tests/torch_check.py``'s ``optimizer_and_torch``, under
the project's rule. ``test_matches_torch``, below: 20 steps on a stand-in network, through
the per-parameter path, with and without clipping, under a tighter bound.

Every configuration runs the same sequence of random gradients through a scratchnet
optimizer and through the torch optimizer (default settings, so torch's single-tensor
CPU loop) and compares every parameter and every optimizer buffer after every step.

Tolerance: ``max |ours - torch| <= ATOL + RTOL * max |torch|`` with, per dtype,

* float64: ATOL = 1e-13, RTOL = 0. Both sides do the same arithmetic in the same order;
  what differs is rounding only: torch's CPU kernels fuse ``a + alpha * b`` into one
  fused multiply-add (one rounding instead of two) and its vectorised ``sqrt`` is off by
  one ulp for ~1% of inputs (numpy's is correctly rounded). That is an ulp here and
  there; over 20 steps on parameters of order one it stays below ~1e-14 (measured
  worst: 3.6e-15), so 1e-13 fails anything that is not rounding.
* float32: ATOL = RTOL = 20 * eps32 = 2.4e-6. The same ulp-sized differences with
  float32's eps = 1.2e-7 instead of 2.2e-16: about one ulp of disagreement per step,
  accumulated over the 20 steps (measured worst: 1.4e-6 on a parameter of size ~8,
  i.e. 1.5 eps relative).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from reference.agreement import assert_agree
from scratchnet import Sequential, SoftmaxCrossEntropy, seed_network
from scratchnet.flat import FlatParameters
from scratchnet.optim import (
    SGD,
    Adam,
    Optimizer,
    RMSprop,
    clip_grad_norm,
    global_grad_norm,
)
from tests.torch_check import check, optimizer_and_torch

SHAPES = {
    "conv1.weight": (4, 1, 5, 5),
    "conv1.bias": (4,),
    "fc1.weight": (10, 128),
    "fc1.bias": (10,),
}
STEPS = 20
EPS32 = float(np.finfo(np.float32).eps)
TOL = {np.dtype(np.float64): (1e-13, 0.0), np.dtype(np.float32): (STEPS * EPS32, STEPS * EPS32)}


class TinyNet:
    """A stand-in for a scratchnet network: live parameter arrays, replaceable gradients."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}

    def named_params(self) -> dict[str, np.ndarray]:
        return dict(self.params)

    def named_grads(self) -> dict[str, np.ndarray]:
        return dict(self.grads)

    def backward(self, grads: dict[str, np.ndarray]) -> None:
        """Install new gradient arrays (fresh objects, as a real backward may do)."""
        self.grads = {k: v.copy() for k, v in grads.items()}


def random_params(dtype: type, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def random_grads(dtype: type, steps: int, seed: int = 1) -> list[dict[str, np.ndarray]]:
    """``steps`` random gradient dicts; global norm ~37 (1394 standard normal entries)."""
    rng = np.random.default_rng(seed)
    return [{k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
            for _ in range(steps)]


MakeOurs = Callable[[TinyNet], Optimizer]
MakeTorch = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]
BeforeStep = Callable[[int, Optimizer, torch.optim.Optimizer], None]


@dataclass
class SideBySide:
    """Both sides after one step: our net and optimizer, torch's parameters and optimizer."""

    net: TinyNet
    opt: Optimizer
    tparams: dict[str, torch.nn.Parameter]
    topt: torch.optim.Optimizer
    norm: float | None  # global grad norms returned by the clipping, if it ran
    tnorm: float | None


def run_side_by_side(
    make: MakeOurs, make_torch: MakeTorch, dtype: type, max_norm: float | None,
    before_step: BeforeStep | None = None,
) -> Iterator[SideBySide]:
    """Step both optimizers on the same gradients; yield both sides after every step.

    ``before_step(t, ours, theirs)``, if given, runs before step ``t`` (e.g. to set lr).
    """
    params = random_params(dtype)
    net = TinyNet({k: v.copy() for k, v in params.items()})
    live = net.named_params()
    tparams = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    opt, topt = make(net), make_torch(list(tparams.values()))
    for t, grads in enumerate(random_grads(dtype, STEPS), start=1):
        if before_step is not None:
            before_step(t, opt, topt)
        net.backward(grads)
        for k, tp in tparams.items():
            tp.grad = torch.from_numpy(grads[k].copy())
        norm = tnorm = None
        if max_norm is not None:
            norm = clip_grad_norm(net.named_grads(), max_norm)
            tnorm = float(torch.nn.utils.clip_grad_norm_(list(tparams.values()), max_norm))
        opt.step()
        topt.step()
        for k, p in net.named_params().items():  # updated in place, dtype kept
            assert p is live[k] and p.dtype == np.dtype(dtype), k
        yield SideBySide(net, opt, tparams, topt, norm, tnorm)


def assert_close(
    ours: np.ndarray | float, ref: np.ndarray | float, dtype: type, what: str
) -> float:
    """Assert ``|ours - ref| <= ATOL + RTOL * max|ref|`` (see the module docstring).

    Returns the max abs error as a fraction of the allowed error (<= 1 when passing).
    """
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    atol, rtol = TOL[np.dtype(dtype)]
    allowed = atol + rtol * float(np.abs(ref).max())
    err = float(np.abs(ours - ref).max())
    assert err <= allowed, f"{what}: max abs error {err:.3g} > allowed {allowed:.3g}"
    return err / allowed


def assert_matches_torch(
    make: MakeOurs, make_torch: MakeTorch, dtype: type, max_norm: float | None = None,
    clips: bool | None = None, before_step: BeforeStep | None = None,
) -> float:
    """After every step compare every parameter and every optimizer buffer with torch's.

    With ``max_norm``, also check that clipping happened iff ``clips`` and that the
    returned global norms agree. Returns the worst parameter error / allowed error.
    """
    worst = 0.0
    for t, s in enumerate(run_side_by_side(make, make_torch, dtype, max_norm, before_step), 1):
        if max_norm is not None:
            assert (s.norm > max_norm) == clips, f"step {t}: norm {s.norm}, max_norm {max_norm}"
            assert_close(s.norm, s.tnorm, dtype, f"step {t}: global norm")
        for k, p in s.net.named_params().items():
            ratio = assert_close(p, s.tparams[k].detach().numpy(), dtype, f"step {t}, {k}")
            worst = max(worst, ratio)
        state = s.opt.state_dict()
        assert int(state.pop("step")) == t
        for key, buf in state.items():  # e.g. "exp_avg.fc1.weight" vs state[p]["exp_avg"]
            name, param = key.split(".", 1)
            tbuf = s.topt.state[s.tparams[param]][name].numpy()
            assert_close(buf, tbuf, dtype, f"step {t}, {key}")
    return worst


def pair(ours: type[Optimizer], theirs: type[torch.optim.Optimizer], torch_only: dict | None = None,
         **kwargs: object) -> tuple[MakeOurs, MakeTorch]:
    """(scratchnet optimizer, the same torch optimizer): both take the same keywords;
    ``torch_only`` are torch's alone (e.g. ``foreach``)."""
    return (lambda net: ours(net, **kwargs),
            lambda params: theirs(params, **kwargs, **(torch_only or {})))


T = torch.optim
# One line per configuration; together every combination of each optimizer's options.
CASES = {
    "sgd": pair(SGD, T.SGD, lr=0.1),
    "sgd_weight_decay": pair(SGD, T.SGD, lr=0.1, weight_decay=0.05),
    "sgd_dampening_no_momentum": pair(SGD, T.SGD, lr=0.1, dampening=0.3),  # no effect
    "sgd_momentum": pair(SGD, T.SGD, lr=0.1, momentum=0.9),
    "sgd_momentum_wd": pair(SGD, T.SGD, lr=0.1, momentum=0.5, weight_decay=0.05),
    "sgd_dampening": pair(SGD, T.SGD, lr=0.1, momentum=0.9, dampening=0.3),
    "sgd_dampening_wd": pair(SGD, T.SGD, lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05),
    "sgd_nesterov": pair(SGD, T.SGD, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_nesterov_wd": pair(SGD, T.SGD, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
    # The closed ends of the ranges, which must be accepted: dampening 1 (the buffer keeps
    # its first gradient), weight_decay exactly 1 (here and for Adam), betas and alpha 0
    # (the averages are the last gradient).
    "sgd_dampening_1": pair(SGD, T.SGD, lr=0.1, momentum=0.9, dampening=1.0),
    "sgd_momentum_wd_1": pair(SGD, T.SGD, lr=0.1, momentum=0.5, weight_decay=1.0),
    "adam": pair(Adam, T.Adam),
    "adam_big_lr": pair(Adam, T.Adam, lr=0.1),
    "adam_weight_decay": pair(Adam, T.Adam, lr=0.01, weight_decay=0.05),
    "adam_weight_decay_1": pair(Adam, T.Adam, lr=0.01, weight_decay=1.0),
    "adam_betas_0": pair(Adam, T.Adam, lr=0.01, betas=(0.0, 0.0)),
    "adam_small_betas": pair(Adam, T.Adam, lr=0.01, betas=(0.3, 0.5), eps=1e-3),  # lerp w>=.5
    "adam_amsgrad": pair(Adam, T.Adam, lr=0.01, amsgrad=True),
    "adam_amsgrad_wd": pair(Adam, T.Adam, lr=0.01, weight_decay=0.05, amsgrad=True),
    "adam_amsgrad_small_betas": pair(Adam, T.Adam, lr=0.01, betas=(0.3, 0.5), amsgrad=True),
    "rmsprop": pair(RMSprop, T.RMSprop),
    "rmsprop_weight_decay": pair(RMSprop, T.RMSprop, weight_decay=0.05),
    "rmsprop_momentum": pair(RMSprop, T.RMSprop, momentum=0.9),
    "rmsprop_momentum_wd": pair(RMSprop, T.RMSprop, momentum=0.9, weight_decay=0.05),
    "rmsprop_centered": pair(RMSprop, T.RMSprop, centered=True),
    "rmsprop_centered_wd": pair(RMSprop, T.RMSprop, centered=True, weight_decay=0.05),
    "rmsprop_centered_momentum": pair(RMSprop, T.RMSprop, centered=True, momentum=0.9),
    "rmsprop_all": pair(RMSprop, T.RMSprop, centered=True, momentum=0.9, weight_decay=0.05),
    "rmsprop_alpha_0": pair(RMSprop, T.RMSprop, lr=0.001, alpha=0.0),  # steps lr * sign(g)
    "rmsprop_small_alpha": pair(RMSprop, T.RMSprop, alpha=0.3, momentum=0.5, eps=1e-3),
    # The centered variance, square_avg - grad_avg^2, is a difference that loses digits as
    # alpha falls (the average of the last few gradients' squares minus its square): with
    # alpha 0.5 torch's lerp takes its other branch (weight >= 0.5) and the loss is small
    # (float64 worst 5e-15 over 50 steps; at alpha 0.3, 4e-14, float32 2e-5).
    "rmsprop_centered_alpha_half": pair(RMSprop, T.RMSprop, alpha=0.5, centered=True,
                                        momentum=0.5),
    "rmsprop_weight_decay_1": pair(RMSprop, T.RMSprop, momentum=0.5, weight_decay=1.0),
    "rmsprop_big_lr": pair(RMSprop, T.RMSprop, lr=0.1, momentum=0.5),
    # torch's multi-tensor path (not its CPU default) must agree too.
    "sgd_nesterov_foreach": pair(SGD, T.SGD, {"foreach": True}, lr=0.1, momentum=0.9,
                                 nesterov=True),
    "adam_foreach": pair(Adam, T.Adam, {"foreach": True}, lr=0.01, weight_decay=0.05),
    "rmsprop_foreach": pair(RMSprop, T.RMSprop, {"foreach": True}, centered=True, momentum=0.9,
                            weight_decay=0.05),
}
# max_norm and whether it clips: the random gradients have a global norm of about 37.
CLIPPING = {"no_clip_call": (None, None), "clips": (5.0, True), "does_not_clip": (1e3, False)}


@pytest.mark.parametrize("clip", CLIPPING.values(), ids=CLIPPING.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_matches_torch(case: tuple[MakeOurs, MakeTorch], dtype: type, clip: tuple) -> None:
    make, make_torch = case
    max_norm, clips = clip
    assert_matches_torch(make, make_torch, dtype, max_norm, clips)


NETWORK_STEPS = 50  # enough for the bias corrections to fade and the averages to fill


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_matches_torch_on_a_network(case: tuple[MakeOurs, MakeTorch], dtype: type) -> None:
    """50 steps on the seed network's 21,518 parameters, the optimizer on its flat path:
    parameters and every buffer after every step agree with torch's under the project's
    rule (float64 1e-12, float32 1e-5 scaled, ``reference/agreement.py``). Both sides
    round the same operations, torch with a fused multiply-add here and there; measured
    worst 4.9e-15 and 2.1e-6, in ``rmsprop_centered_alpha_half`` (see there), below 1e-15
    and 4e-7 in every other case."""
    make, make_torch = case
    net = seed_network("full", dtype=dtype, seed=3)
    opt = make(net)
    assert len(opt._params_and_grads()) == 1  # the flat path
    pairs = optimizer_and_torch(make, make_torch, net, steps=NETWORK_STEPS, state=True)
    assert len(pairs) == NETWORK_STEPS * (1 + len(opt.buffer_names))
    for what, (ours, theirs) in pairs.items():
        check(ours, theirs, dtype, what)


def test_torch_default_on_cpu_is_the_single_tensor_loop() -> None:
    """The order of operations we mirror is that of torch's default CPU path."""
    from torch.optim.optimizer import _default_to_fused_or_foreach

    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    assert _default_to_fused_or_foreach([p], differentiable=False) == (False, False)


def test_lr_is_a_plain_attribute() -> None:
    """Changing ``opt.lr`` between steps acts like changing torch's param_group lr."""

    def decay(t: int, ours: Optimizer, theirs: torch.optim.Optimizer) -> None:
        ours.lr = theirs.param_groups[0]["lr"] = 0.1 / t

    assert_matches_torch(CASES["sgd_nesterov"][0], CASES["sgd_nesterov"][1], np.float64,
                         before_step=decay)
    assert_matches_torch(CASES["adam_big_lr"][0], CASES["adam_big_lr"][1], np.float64,
                         before_step=decay)


@pytest.mark.parametrize("ratio", [0.05, 1.0, 1.01, 1.9])  # max_norm / global norm
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_clip_grad_norm_matches_torch(dtype: type, ratio: float) -> None:
    """Clips iff max_norm / (norm + 1e-6) < 1, by that factor; at ratio 1.0 it just does."""
    grads = random_grads(dtype, 1)[0]
    before = {k: g.copy() for k, g in grads.items()}
    tparams = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype))
               for g in grads.values()]
    for p, g in zip(tparams, grads.values(), strict=True):
        p.grad = torch.from_numpy(g.copy())
    max_norm = ratio * global_grad_norm(grads)

    norm = clip_grad_norm(grads, max_norm)
    tnorm = float(torch.nn.utils.clip_grad_norm_(tparams, max_norm))
    assert_close(norm, tnorm, dtype, "global norm")
    for g, p in zip(grads.values(), tparams, strict=True):
        assert g.dtype == np.dtype(dtype)
        assert_close(g, p.grad.numpy(), dtype, "clipped gradient")
    if ratio > 1.0:  # untouched, bit for bit
        assert all(np.array_equal(grads[k], before[k]) for k in grads)
    else:
        assert_close(global_grad_norm(grads), max_norm * norm / (norm + 1e-6), dtype, "new norm")


def test_global_norm_accumulates_in_float64() -> None:
    """float32 gradients are squared and summed in float64: as exact as float64 gradients of
    the same values (float64 tolerance), and no overflow where float32 squares would."""
    grads = random_grads(np.float32, 1)[0]
    exact = math.sqrt(math.fsum(float(v) ** 2 for g in grads.values() for v in g.ravel()))
    assert_agree(np.float64(global_grad_norm(grads)), np.float64(exact), np.float64, "norm")
    huge = {"w": np.full(4, 1e30, np.float32)}  # 1e60 is beyond float32
    assert_agree(np.float64(global_grad_norm(huge)), 2 * np.float64(huge["w"][0]), np.float64,
                 "huge norm")


# ---- state_dict: a resumed run continues bit-identically --------------------------------

RESUME_CASES = {
    "sgd": lambda n: SGD(n, lr=0.1),
    "sgd_dampening": lambda n: SGD(n, lr=0.1, momentum=0.9, dampening=0.3),
    "sgd_nesterov_wd": lambda n: SGD(n, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda n: Adam(n, lr=0.01),
    "adam_weight_decay": lambda n: Adam(n, lr=0.01, weight_decay=0.05),
    "adam_amsgrad": lambda n: Adam(n, lr=0.01, amsgrad=True),
    "rmsprop": lambda n: RMSprop(n),
    "rmsprop_all": lambda n: RMSprop(n, momentum=0.9, centered=True, weight_decay=0.01),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("make", RESUME_CASES.values(), ids=RESUME_CASES.keys())
def test_state_dict_resume_is_bit_identical(make: MakeOurs, dtype: type, tmp_path) -> None:
    grads = random_grads(dtype, 20)

    straight = TinyNet(random_params(dtype))
    straight_opt = make(straight)
    for g in grads:
        straight.backward(g)
        straight_opt.step()

    first = TinyNet(random_params(dtype))
    opt = make(first)
    for g in grads[:10]:
        first.backward(g)
        opt.step()
    np.savez(tmp_path / "opt.npz", **opt.state_dict())

    resumed = TinyNet({k: v.copy() for k, v in first.params.items()})
    opt = make(resumed)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as saved:
        opt.load_state_dict(saved)
    assert int(opt.state_dict()["step"]) == 10
    for g in grads[10:]:
        resumed.backward(g)
        opt.step()

    for k, p in straight.params.items():
        assert np.array_equal(resumed.params[k], p), k
    final, resumed_final = straight_opt.state_dict(), opt.state_dict()
    assert final.keys() == resumed_final.keys()
    for k, v in final.items():
        assert np.array_equal(resumed_final[k], v), k


class PerParameter:
    """A network's named_params/named_grads, without its flat arrays: the per-parameter path."""

    def __init__(self, net: Sequential) -> None:
        self.named_params, self.named_grads = net.named_params, net.named_grads


def _train(net: Sequential, opt: Optimizer, dtype: type, steps: int = 6) -> None:
    rng = np.random.default_rng(7)
    loss = SoftmaxCrossEntropy()
    for _ in range(steps):
        x = rng.random((5, 1, 28, 28)).astype(dtype)
        loss.forward(net.forward(x), rng.integers(0, 10, 5))
        net.backward(loss.backward())
        opt.step()


class FlatViews(TinyNet):
    """Parameters and gradients as slices of two flat arrays, in ``SHAPES`` order, as
    ``Sequential`` keeps them; ``grad_view(slice, shape)`` makes each gradient's array."""

    def __init__(self, grad_view: Callable[[np.ndarray, tuple], np.ndarray]) -> None:
        sizes = [int(np.prod(s)) for s in SHAPES.values()]
        rng = np.random.default_rng(5)
        self.flat_params, self.flat_grads = (rng.standard_normal(sum(sizes)) for _ in range(2))
        ends = np.cumsum(sizes)
        super().__init__({k: self.flat_params[e - n : e].reshape(s)
                          for (k, s), n, e in zip(SHAPES.items(), sizes, ends, strict=True)})
        self.grads = {k: grad_view(self.flat_grads[e - n : e], s)
                      for (k, s), n, e in zip(SHAPES.items(), sizes, ends, strict=True)}

    def flat_parameters(self) -> FlatParameters | None:
        """What ``Sequential.flat_parameters`` hands over, made from these arrays."""
        if getattr(self, "flat_grads", None) is None:
            return None
        return FlatParameters.of(self.flat_params, self.flat_grads, self.params, self.grads)


@pytest.mark.parametrize("how, grad_view, flat", [
    ("the views Sequential makes", lambda a, s: a.reshape(s), True),
    # Same memory and shape, another order: a flat update would mix up the entries.
    ("transposed views", lambda a, s: a.reshape(s[::-1]).T, False),
])
def test_flat_step_only_for_views_in_the_flat_arrays_order(how, grad_view, flat: bool) -> None:
    net = FlatViews(grad_view)
    copies = TinyNet({k: p.copy() for k, p in net.params.items()})
    copies.backward(net.grads)
    opt, reference = SGD(net, lr=0.5, momentum=0.9), SGD(copies, lr=0.5, momentum=0.9)
    assert len(opt._params_and_grads()) == (1 if flat else len(SHAPES)), how
    for _ in range(2):
        opt.step()
        reference.step()
    for k, p in copies.params.items():
        assert np.array_equal(net.params[k], p), k


def test_flat_gradients_of_the_wrong_shape_are_rejected() -> None:
    net = FlatViews(lambda a, s: a)  # each gradient a 1-D slice, not its parameter's shape
    with pytest.raises(ValueError, match=r"conv1\.weight: gradient shape \(100,\) != parameter"):
        SGD(net, lr=0.1).step()


def test_flat_parameters_without_flat_gradients_take_the_per_parameter_path() -> None:
    net = FlatViews(lambda a, s: a.reshape(s).copy())
    del net.flat_grads
    opt = SGD(net, lr=0.1)
    assert len(opt._params_and_grads()) == len(SHAPES)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("make", RESUME_CASES.values(), ids=RESUME_CASES.keys())
def test_flat_step_is_the_per_parameter_step(make: MakeOurs, dtype: type) -> None:
    """Updating the network's flat arrays at once changes no bit of parameters or state."""
    flat_net, per_net = (seed_network("full", dtype=dtype, seed=3) for _ in range(2))
    flat_opt, per_opt = make(flat_net), make(PerParameter(per_net))
    assert len(flat_opt._params_and_grads()) == 1          # the whole network at once
    assert len(per_opt._params_and_grads()) == len(per_net.named_params())
    _train(flat_net, flat_opt, dtype)
    _train(per_net, per_opt, dtype)
    for key, value in per_net.named_params().items():
        assert np.array_equal(flat_net.named_params()[key], value), key
    flat_state, per_state = flat_opt.state_dict(), per_opt.state_dict()
    assert flat_state.keys() == per_state.keys()
    for key, value in per_state.items():
        assert np.array_equal(flat_state[key], value), key


def test_replaced_arrays_fall_back_to_per_parameter_steps() -> None:
    """A gradient array swapped for another is used, not the stale view of the flat array."""
    net = seed_network("full", seed=0)
    opt = SGD(net, lr=0.5)
    before = net.named_params()["fc2.bias"].copy()
    net["fc2"].grads["bias"] = np.full(10, 2.0)     # not a view of net.flat_grads
    assert len(opt._params_and_grads()) == len(net.named_params())
    opt.step()
    np.testing.assert_array_equal(net.named_params()["fc2.bias"], before - 0.5 * 2.0)


def test_flat_arrays_no_longer_in_use_at_construction_are_not_used() -> None:
    """A network whose dicts no longer hold the views it gathered (here a gradient swapped
    for another array before the optimizer is made) is stepped parameter by parameter."""
    net = seed_network("full", seed=0)
    net["fc2"].grads["bias"] = np.full(10, 2.0)
    before = net.named_params()["fc2.bias"].copy()
    opt = SGD(net, lr=0.5, momentum=0.9)
    assert len(opt._params_and_grads()) == len(net.named_params())
    opt.step()
    np.testing.assert_array_equal(net.named_params()["fc2.bias"], before - 0.5 * 2.0)


def test_state_dict_keys_and_copies() -> None:
    net = TinyNet(random_params(np.float64))
    opt = Adam(net)
    state = opt.state_dict()
    assert set(state) == {"step"} | {f"{b}.{k}" for b in ("exp_avg", "exp_avg_sq") for k in SHAPES}
    assert state["step"].shape == () and state["step"].dtype == np.int64
    state["exp_avg.fc1.bias"][...] = 1.0  # a copy: the optimizer is not affected
    assert not opt.state_dict()["exp_avg.fc1.bias"].any()
    assert set(SGD(net, lr=0.1).state_dict()) == {"step"}
    assert set(SGD(net, lr=0.1, momentum=0.9).state_dict()) == {"step"} | {
        f"momentum_buffer.{k}" for k in SHAPES
    }
    assert set(Adam(net, amsgrad=True).state_dict()) == {"step"} | {
        f"{b}.{k}" for b in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") for k in SHAPES}
    for options, buffers in [({}, ("square_avg",)),
                             ({"momentum": 0.9}, ("square_avg", "momentum_buffer")),
                             ({"centered": True}, ("square_avg", "grad_avg"))]:
        assert set(RMSprop(net, **options).state_dict()) == {"step"} | {
            f"{b}.{k}" for b in buffers for k in SHAPES}, options


# ---- errors -----------------------------------------------------------------------------


def _net() -> TinyNet:
    return TinyNet(random_params(np.float64))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SGD(_net(), lr=-0.1), r"lr must be >= 0, got -0\.1"),
        (lambda: SGD(_net(), lr=float("nan")), r"lr must be >= 0, got nan"),
        (lambda: SGD(_net(), lr=0.1, momentum=1.0), r"momentum must be in \[0, 1\), got 1\.0"),
        (lambda: SGD(_net(), lr=0.1, momentum=-0.5), r"momentum must be in \[0, 1\), got -0\.5"),
        (lambda: SGD(_net(), lr=0.1, dampening=1.5), r"dampening must be in \[0, 1\], got 1\.5"),
        (lambda: SGD(_net(), lr=0.1, weight_decay=-1.0), r"weight_decay must be >= 0, got -1\.0"),
        (lambda: SGD(_net(), lr=0.1, nesterov=True),
         r"nesterov=True requires momentum > 0 and dampening == 0, got momentum=0\.0"),
        (lambda: SGD(_net(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
         r"nesterov=True requires .* got momentum=0\.9, dampening=0\.1"),
        (lambda: Adam(_net(), lr=-1.0), r"lr must be >= 0, got -1\.0"),
        (lambda: Adam(_net(), betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\), got 1\.0"),
        (lambda: Adam(_net(), betas=(0.9, -0.1)), r"betas\[1\] must be in \[0, 1\), got -0\.1"),
        (lambda: Adam(_net(), betas=(0.9,)), r"betas must be a pair \(beta1, beta2\), got"),
        (lambda: Adam(_net(), eps=0.0), r"eps must be > 0, got 0\.0"),
        (lambda: Adam(_net(), weight_decay=-0.1), r"weight_decay must be >= 0, got -0\.1"),
        (lambda: Adam(_net(), amsgrad=1), r"amsgrad must be True or False, got 1"),
        (lambda: RMSprop(_net(), lr=-0.01), r"lr must be >= 0, got -0\.01"),
        (lambda: RMSprop(_net(), alpha=1.0), r"alpha must be in \[0, 1\), got 1\.0"),
        (lambda: RMSprop(_net(), alpha=-0.1), r"alpha must be in \[0, 1\), got -0\.1"),
        (lambda: RMSprop(_net(), eps=0.0), r"eps must be > 0, got 0\.0"),
        (lambda: RMSprop(_net(), eps=float("nan")), r"eps must be > 0, got nan"),
        (lambda: RMSprop(_net(), weight_decay=-1.0), r"weight_decay must be >= 0, got -1\.0"),
        (lambda: RMSprop(_net(), momentum=1.0), r"momentum must be in \[0, 1\), got 1\.0"),
        (lambda: RMSprop(_net(), centered="yes"), r"centered must be True or False, got 'yes'"),
        (lambda: clip_grad_norm(_net().named_grads(), 0.0), r"max_norm must be > 0, got 0\.0"),
        (lambda: clip_grad_norm(_net().named_grads(), -1), r"max_norm must be > 0, got -1"),
    ],
)
def test_bad_arguments(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("make", [lambda n: SGD(n, lr=0.1, momentum=0.9), lambda n: Adam(n),
                                  lambda n: RMSprop(n, momentum=0.9, centered=True)],
                         ids=["sgd", "adam", "rmsprop"])
def test_step_rejects_mismatched_params_and_grads(make: MakeOurs) -> None:
    net = _net()
    opt = make(net)
    grads = random_grads(np.float64, 1)[0]

    net.backward({k: v for k, v in grads.items() if k != "fc1.bias"})
    with pytest.raises(ValueError, match=r"parameter 'fc1\.bias' has no gradient"):
        opt.step()

    net.backward({**grads, "fc2.bias": np.zeros(3)})
    with pytest.raises(ValueError, match=r"gradient 'fc2\.bias' has no parameter"):
        opt.step()

    net.backward({**grads, "conv1.bias": np.zeros(5)})
    with pytest.raises(ValueError, match=r"conv1\.bias: gradient shape \(5,\) != parameter"):
        opt.step()

    net.backward({**grads, "fc2.bias": np.zeros(3)})
    net.params["fc2.bias"] = np.zeros(3)  # a parameter the optimizer has never seen
    with pytest.raises(ValueError, match=r"parameter 'fc2\.bias' was not in the network"):
        opt.step()

    net.params["fc1.bias"], grads["fc1.bias"] = np.zeros(3), np.zeros(3)  # resized since
    net.backward({k: v for k, v in grads.items()})
    del net.params["fc2.bias"]
    with pytest.raises(ValueError, match=r"^fc1\.bias: parameter shape \(3,\) != shape at "
                                         r"construction \(10,\)$"):
        opt.step()


def test_load_state_dict_rejects_bad_state() -> None:
    opt = Adam(_net())
    good = opt.state_dict()

    with pytest.raises(ValueError, match=r"missing keys \['exp_avg\.fc1\.bias'\], unexpected"):
        opt.load_state_dict({k: v for k, v in good.items() if k != "exp_avg.fc1.bias"})
    with pytest.raises(ValueError, match=r"unexpected keys \['momentum_buffer\.fc1\.bias'\]"):
        opt.load_state_dict({**good, "momentum_buffer.fc1.bias": np.zeros(10)})
    with pytest.raises(ValueError, match=r"exp_avg_sq\.conv1\.bias has shape \(3,\), expected"):
        opt.load_state_dict(
            {**good, "exp_avg.fc1.bias": np.ones(10), "exp_avg_sq.conv1.bias": np.ones(3)}
        )
    assert not opt.state_dict()["exp_avg.fc1.bias"].any()  # a failed load changes nothing
    with pytest.raises(ValueError, match=r"step must be a 0-d integer >= 0"):
        opt.load_state_dict({**good, "step": np.array(1.5)})
    with pytest.raises(ValueError, match=r"step must be a 0-d integer >= 0"):
        opt.load_state_dict({**good, "step": np.array(-1)})
    with pytest.raises(ValueError, match=r"missing keys \['step'\]"):
        opt.load_state_dict({k: v for k, v in good.items() if k != "step"})
