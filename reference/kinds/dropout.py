"""Dropout (``torch.nn.Dropout``, no seed equation): its twin, its battery, its conditions,
its CS231n functions and its procedure.

Dropout is random, so its twin and its check cannot draw their own masks: the twin
applies the mask the layer itself drew (``layer.mask``, read at each forward), and the
check (``procedure``) reads the mask an implementation drew from its output and compares
with PyTorch under that mask (see ``DropoutProcedure``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from reference.agreement import agree
from reference.guard import as_array, quiet, unpack
from reference.kinds.data import Data, draw_data, draw_gradients, non_contiguous
from reference.kinds.kind import (
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    FunctionStyle,
    Kind,
    negate,
    setting,
)
from reference.kinds.procedures import LayerProcedure, changed
from reference.kinds.record import Run
from reference.quantities import torch_layer_quantities
from reference.twin import layer_setting
from scratchnet import Dropout

# ---- the twin ---------------------------------------------------------------------------


class MaskedDropout(nn.Module):
    """PyTorch's inverted dropout under the mask a layer drew: ``x * (mask / (1 - p))``,
    the mask scaled first as ``torch.nn.functional.dropout`` does (``0 * x`` when
    ``p = 1``), and the identity in eval mode.

    The mask is read from ``layer.mask`` (True or nonzero: kept) at every forward, so the
    twin repeats the layer's last training forward: run the layer first. It is in
    training mode only when both it and the layer are (``compare`` on a network in eval
    mode, or ``twin.eval()`` for an evaluation, both give the identity).
    """

    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.layer = layer
        self.p = float(layer_setting(layer, "p", 0.5, "dropout"))

    def extra_repr(self) -> str:
        return f"p={self.p}, the mask of {type(self.layer).__name__}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and getattr(self.layer, "training", True)):
            return x
        mask = getattr(self.layer, "mask", None)
        if mask is None:
            raise RuntimeError(f"the dropout twin applies the mask of the layer's last "
                               f"training forward, and {type(self.layer).__name__} has "
                               f"drawn none yet: run the layer first")
        keep = torch.from_numpy(np.asarray(mask) != 0)
        if keep.shape != x.shape:
            raise RuntimeError(f"the dropout twin got an input of shape {tuple(x.shape)}, the "
                               f"layer's mask is {tuple(keep.shape)}: run the layer on the "
                               f"same batch first")
        scale = 0.0 if self.p == 1 else 1 / (1 - self.p)
        return x * (keep.to(x.dtype) * scale)


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    return MaskedDropout(layer)


def rebuild(layer: Any, input_shape: tuple[int, ...]) -> tuple[tuple, dict[str, Any]]:
    return (float(layer_setting(layer, "p", 0.5, "dropout")),), {}


# ---- the battery ------------------------------------------------------------------------

def configuration(name: str, p: float, shape: tuple[int, ...],
                  contiguous: bool = True) -> Configuration:
    """Dropout with probability ``p`` on an input of ``shape``, drawn away from 0 (so that
    a 0 in the output is a dropped value)."""
    return Configuration(name, (p,), {}, shape, "normal", contiguous, {"p": p})


#: Values of a "large input": enough for the drop rate's test to see a rate off by 0.05.
LARGE = (200, 100)

NAMED = (
    configuration("the plainest", 0.5, (4, 6)),
    configuration("p near 0", 0.05, (8, 50)),
    configuration("p near 1", 0.95, (8, 50)),
    configuration("p = 0 (keeps everything)", 0.0, (3, 5)),
    configuration("4-D input", 0.3, (2, 3, 4, 5)),
    configuration("one example", 0.5, (1, 40)),
    configuration("non-contiguous input", 0.5, (4, 6), contiguous=False),
    configuration("large input", 0.5, LARGE),
    configuration("large input, p near 0", 0.05, LARGE),
    configuration("large input, p near 1", 0.95, LARGE),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    shape = tuple(r(1, 6) for _ in range(r(2, 4)))
    return configuration(name, [0.0, 0.05, 0.2, 0.5, 0.8, 0.95][r(0, 5)], shape,
                         contiguous=bool(r(0, 3)))


# ---- the statistics -----------------------------------------------------------------------

#: How rarely a right layer may fail a statistical test: less than once in a million runs.
FALSE_ALARM = 1e-6


def rate_bound(n: int) -> float:
    """How far a right layer's drop rate over ``n`` values strays from ``p`` with
    probability at most ``FALSE_ALARM``: Hoeffding's inequality for the mean of ``n``
    independent Bernoulli(p) draws, two-sided, ``P(|rate - p| >= t) <= 2 exp(-2 n t^2)``,
    solved for ``t``: ``sqrt(ln(2 / FALSE_ALARM) / (2 n))``. For the battery's large
    inputs (n = 20,000) ``t = 0.019``: a rate off by 0.05 passes with probability below
    ``2 exp(-2 n (0.05 - t)^2) = 4e-17``."""
    return math.sqrt(math.log(2 / FALSE_ALARM) / (2 * n))


def rate_tested(c: Configuration) -> bool:
    """Whether the drop rate is tested: the input has enough values that a rate off by
    0.05 fails (``rate_bound <= 0.025``)."""
    return rate_bound(math.prod(c.shape)) <= 0.025


def new_mask_tested(c: Configuration) -> bool:
    """Whether two calls' masks are compared: a right layer draws the same mask twice with
    probability ``(p^2 + (1 - p)^2)^n`` for ``n`` values, at most ``FALSE_ALARM`` here."""
    p, n = c.settings["p"], math.prod(c.shape)
    return (p * p + (1 - p) ** 2) ** n <= FALSE_ALARM


def p_is(value: float) -> Callable[[Configuration, np.ndarray], bool]:
    return setting("p", lambda p: p == value)


CONDITIONS = (
    ("p other than 0.5", negate(p_is(0.5))), ("p = 0.5", p_is(0.5)),
    ("p = 0 (everything kept)", p_is(0.0)), ("p above 0", negate(p_is(0.0))),
    ("enough values to test the drop rate", lambda c, x: rate_tested(c)),
    ("more than two axes", lambda c, x: len(c.shape) > 2),
    NON_CONTIGUOUS,
)


# ---- the procedure ------------------------------------------------------------------------

#: The quantities, in the order they are checked (the two statistical ones only where
#: the configuration has enough values for them).
TRAINING = ("output", "grad input")
NEW_MASK, DROP_RATE = "a new mask on the second call (1: yes)", "drop rate"
EVAL = ("eval output", "eval grad input")


def under_its_mask(value: np.ndarray, base: np.ndarray, kept: np.ndarray,
                   all_kept: np.ndarray, masked: bool = True) -> np.ndarray:
    """An implementation's output (or input gradient) ``value``, compared with PyTorch's
    under the mask ``kept`` it drew, as a quantity that does not depend on that mask.

    PyTorch's value under the mask is ``all_kept`` (its value with every value kept:
    ``base / (1 - p)``, ``base`` the input or the upstream gradient) where kept, 0 where
    dropped. When ``value`` agrees with it, the quantity is ``all_kept`` itself. When it
    does not, the quantity is what ``value`` gives a kept value and a dropped one, each as
    the median of ``value / base`` over the kept (``a``) and the dropped (``b``) values,
    times ``base``: ``where(kept, value, a base) + where(kept, b base, value)``, which for
    a right layer (``a = 1/(1-p)``, ``b = 0``) is ``all_kept``. So a mistake that scales
    every kept (or every dropped) value alike gives the same quantity whatever its mask,
    and the catalogue's variant, drawing its own mask, reproduces it; one whose errors do
    not follow that pattern is compared as it is (``value`` minus PyTorch's under the mask,
    plus ``all_kept``: the same error), so no wrong value passes.

    In eval mode (``masked`` False) nothing may be dropped: PyTorch's value is
    ``all_kept`` (the identity's) whatever is 0, and ``kept`` serves the quantity only.
    """
    under_mask = np.where(kept, all_kept, 0.0) if masked else all_kept
    if value.shape != base.shape:
        return value
    if agree(value, under_mask, np.float64):
        return all_kept.copy()
    with quiet():
        ratio = value / base
        a = float(np.median(ratio[kept])) if kept.any() else 0.0
        b = float(np.median(ratio[~kept])) if (~kept).any() else 0.0
        explained = np.where(kept, value, a * base) + np.where(kept, b * base, value)
        if agree(explained, all_kept, np.float64):
            explained = value - under_mask + all_kept
    return explained


@contextmanager
def numpy_seeded(seed: int) -> Iterator[None]:
    """NumPy's global generator seeded with ``seed``, and restored after: code drawing its
    masks from ``np.random`` (as most course code does) draws the same ones in the check's
    two identical runs, and a new one at each call (each call has its own seed)."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def set_mode(layer: Any, training: bool) -> None:
    """Training or eval mode: ``train()`` / ``eval()`` if the class has them, else its
    ``training`` attribute set (PyTorch's and scratchnet's convention)."""
    method = getattr(layer, "train" if training else "eval", None)
    if callable(method):
        method(training) if training else method()
    else:
        layer.training = training


class DropoutProcedure(LayerProcedure):
    """Dropout's check: one training forward and backward under the mask the
    implementation draws (read from its output: 0 where the input, drawn away from 0, is
    dropped), compared with PyTorch under that mask (``under_its_mask``); a second training
    forward, whose mask must differ from the first; the drop rate against ``p``
    (``rate_bound``); then an eval-mode forward and backward, the identity."""

    #: The parts of an implementation its own quantities come from, in words.
    PARTS: ClassVar[dict[str, str]] = {
        NEW_MASK: "the forward pass: drawing the mask",
        DROP_RATE: "the forward pass: drawing the mask",
        "eval output": "the forward pass in eval mode",
        "eval grad input": "the backward pass in eval mode"}

    def where(self, kind: Kind, q: str) -> str:
        return self.PARTS.get(q) or super().where(kind, q)

    def reference(self, kind: Kind, config: Configuration,
                  rng: np.random.Generator) -> tuple[Data, dict[str, np.ndarray]]:
        layer = kind.scratchnet(*config.args, **config.options)
        data = draw_data(kind, config, rng, {})
        draw_gradients(data, data.x.shape, kind.input_quantity, rng)
        layer.use_mask(np.ones(data.x.shape, bool))        # PyTorch with every value kept
        layer.forward(data.x)
        module = twin(layer, torch.float64)
        kept = torch_layer_quantities(lambda xt, pt: module(xt), data.x, {}, data.grad_y)
        module.eval()
        identity = torch_layer_quantities(lambda xt, pt: module(xt), data.x, {}, data.grad_y)
        p = config.settings["p"]
        data.torch = {"output": kept["output"], "grad input": kept["grad input"],
                      "p": np.float64(p)}
        quantities = {"output": kept["output"], "grad input": kept["grad input"]}
        if new_mask_tested(config):
            quantities[NEW_MASK] = np.float64(1.0)
        if rate_tested(config):
            quantities[DROP_RATE] = np.float64(p)
        quantities["eval output"] = identity["output"]
        quantities["eval grad input"] = identity["grad input"]
        return data, quantities

    def run(self, layer: Any, data: Data, quantities: list[str], run: Run, contiguous: bool,
            finite_differences: bool, thorough: bool) -> None:
        """Fill ``run`` with ``quantities`` (no finite differences: each forward draws a
        new mask)."""
        def given() -> np.ndarray:
            return data.x.copy() if contiguous else non_contiguous(data.x)

        x = given()
        try:
            with numpy_seeded(1):
                y = as_array(layer.forward(x), "forward", "the output array")
        except Exception as err:
            run.stop(quantities, "forward", err)
            return
        if thorough:
            changed(x, data.x, "forward", run)
        if y.shape != data.x.shape:
            run.values["output"] = y
            for q in quantities[1:]:
                run.skipped[q] = "not compared: the output's shape differs from PyTorch's"
            return
        kept = y != 0
        run.values["output"] = under_its_mask(y, data.x, kept, data.torch["output"])
        grad_y = data.grad_y.copy()
        try:
            grad_x = as_array(layer.backward(grad_y), "backward", "the input's gradient")
            run.values["grad input"] = under_its_mask(grad_x, data.grad_y, kept,
                                                      data.torch["grad input"])
        except Exception as err:
            run.stop(["grad input"], "backward", err)
        if thorough:
            changed(grad_y, data.grad_y, "backward", run)
        if NEW_MASK in quantities or DROP_RATE in quantities:
            self.statistics(layer, given, kept, float(data.torch["p"]), quantities, run)
        self.eval_mode(layer, given, data, run)

    def statistics(self, layer: Any, given: Callable[[], np.ndarray], kept: np.ndarray,
                   p: float, quantities: list[str], run: Run) -> None:
        """Whether a second training forward draws a new mask, and the drop rate of the
        first against ``p`` (recorded as ``p`` when within ``rate_bound``, else the rate
        itself, to two decimals)."""
        if DROP_RATE in quantities:
            rate = 1 - float(kept.mean())
            run.values[DROP_RATE] = np.float64(
                p if abs(rate - p) <= rate_bound(kept.size) else round(rate, 2))
        if NEW_MASK in quantities:
            try:
                with numpy_seeded(2):
                    again = as_array(layer.forward(given()), "forward", "the output array")
            except Exception as err:
                run.stop([NEW_MASK], "a second forward", err)
                return
            differs = again.shape != kept.shape or bool(((again != 0) != kept).any())
            run.values[NEW_MASK] = np.float64(differs)

    def eval_mode(self, layer: Any, given: Callable[[], np.ndarray], data: Data,
                  run: Run) -> None:
        """The eval-mode forward and backward, compared with the identity (``under_its_mask``,
        nothing dropped)."""
        try:
            set_mode(layer, training=False)
            with numpy_seeded(3):                  # a layer that draws here draws alike
                y = as_array(layer.forward(given()), "forward in eval mode",
                             "the output array")
        except Exception as err:
            run.stop(list(EVAL), "eval mode", err)
            return
        kept = y != 0
        run.values["eval output"] = under_its_mask(y, data.x, kept, data.x, masked=False)
        try:
            grad_x = as_array(layer.backward(data.grad_y.copy()), "backward in eval mode",
                              "the input's gradient")
        except Exception as err:
            run.stop(["eval grad input"], "backward in eval mode", err)
            return
        run.values["eval grad input"] = under_its_mask(grad_x, data.grad_y, kept,
                                                       data.grad_y, masked=False)


# ---- CS231n functions ---------------------------------------------------------------------

#: The probability the probe drops (or keeps) with, and its input's size.
PROBE_P, PROBE_SIZE = 0.2, (100, 100)


def infer_convention(forward: Callable) -> str:
    """Whether a CS231n ``dropout_forward``'s ``p`` is the probability of keeping a value
    (CS231n's handouts since 2017: "We keep each neuron output with probability p") or of
    dropping it (PyTorch's, and earlier handouts'): ``"keep"`` or ``"drop"``.

    It runs ``forward`` once in training mode with ``p = 0.2`` on 10,000 ones and reads
    the fraction kept (nonzero): about 0.2 when ``p`` keeps, 0.8 when it drops (a
    fraction within 0.1 of either is read as it); else, the kept values' scale, 1/0.2
    when ``p`` keeps, 1/0.8 when it drops. When ``forward`` fails, ``"drop"`` (the check
    then reports the failure itself)."""
    try:
        with quiet(), numpy_seeded(0):
            out, _ = unpack(forward(np.ones(PROBE_SIZE), {"p": PROBE_P, "mode": "train",
                                                          "seed": 0}),
                            ("out", "cache"), "dropout_forward")
            out = np.asarray(out, dtype=np.float64)
            kept = out != 0
            fraction = float(kept.mean())
            if abs(fraction - PROBE_P) <= 0.1 or abs(fraction - (1 - PROBE_P)) <= 0.1:
                return "keep" if abs(fraction - PROBE_P) <= 0.1 else "drop"
            scale = float(np.median(out[kept])) if kept.any() else 0.0
            return "keep" if abs(scale - 1 / PROBE_P) < abs(scale - 1 / (1 - PROBE_P)) \
                else "drop"
    except Exception:
        return "drop"


def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    convention = infer_convention(forward)

    class FunctionDropout:
        """``forward(x, dropout_param) -> (out, cache)``, ``backward(dout, cache) -> dx``,
        ``dropout_param = {'p', 'mode', 'seed'}``: ``p`` as the function reads it (the
        keep probability ``1 - p`` when it keeps with ``p``), ``mode`` ``'train'`` or
        ``'test'`` (``eval()``), and a new seed at every call (so that code seeding
        NumPy with it draws a new mask each time, as its networks do)."""

        conventions = (f"dropout_param {{'p', 'mode', 'seed'}}: p read as the probability "
                       f"of {'keeping' if convention == 'keep' else 'dropping'} a value "
                       f"(inferred from its output); a new seed at every call",)

        def __init__(self, p: float = 0.5) -> None:
            self.p = p
            self.training = True
            self.calls = 0
            self.params: dict[str, Any] = {}
            self.grads: dict[str, Any] = {}

        def eval(self) -> None:
            self.training = False

        def forward(self, x: np.ndarray) -> Any:
            self.calls += 1
            param = {"p": 1 - self.p if convention == "keep" else self.p,
                     "mode": "train" if self.training else "test", "seed": self.calls}
            out, self.cache = unpack(forward(x, param), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            return backward(dout, self.cache)

    return FunctionDropout


FUNCTIONS = FunctionStyle((("dropout_forward", "dropout_backward"),), cs231n_layer,
                          ("dropout_param {'p', 'mode', 'seed'}: p read as the function "
                           "reads it, the keep or the drop probability (inferred from its "
                           "output)",))

KIND = Kind("dropout", Dropout, NAMED, random_configuration, CONDITIONS, twin, rebuild,
            functions=FUNCTIONS, procedure=DropoutProcedure())
