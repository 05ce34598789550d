"""Batch norm, ``batchnorm1d`` (``(N, D)`` or ``(N, C, L)``) and ``batchnorm2d`` (``(N, C,
H, W)``): their twins, their batteries, their conditions and their check's procedure.

A batch norm computes differently in training mode (the batch's statistics, which it also
folds into its running statistics) and in eval mode (the running statistics), so its check
(``BatchNormProcedure``) runs several training forwards and then eval mode, and compares
the running statistics after every step as well as the outputs and gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reference.guard import NotSupportedError, as_array, unpack
from reference.kinds.data import OFFSET, Data, draw_data, draw_gradients, draw_input, non_contiguous
from reference.kinds.kind import (
    BATCH,
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    FunctionStyle,
    Kind,
    negate,
    setting,
)
from reference.kinds.procedures import LayerProcedure, fd_check
from reference.kinds.record import Run
from reference.quantities import torch_layer_quantities
from reference.twin import layer_setting
from scratchnet import BatchNorm1D, BatchNorm2D

LARGE_MEAN = "large mean, tiny variance"
#: Training forwards before eval mode, in every configuration.
STEPS = 3
#: What a batch norm is compared in, after the first training batch's ``output`` and
#: gradients: the running statistics after each step, then eval mode.
EVAL = ("eval output", "eval grad input", "eval grad weight", "eval grad bias")


def configuration(name: str, shape: tuple[int, ...], draw: str = "normal",
                  contiguous: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Configuration:
    """A batch norm of ``shape[1]`` channels on inputs of ``shape`` drawn as ``draw``,
    trained ``STEPS`` batches then put in eval mode. ``momentum`` and ``eps`` are passed
    only when they differ from PyTorch's defaults (0.1, 1e-5)."""
    options: dict[str, Any] = {}
    if momentum != 0.1:
        options["momentum"] = momentum
    if eps != 1e-5:
        options["eps"] = eps
    settings = {"channels": shape[1], "momentum": momentum, "eps": eps, "steps": STEPS}
    return Configuration(name, (shape[1],), options, shape, draw, contiguous, settings)


# The large-mean ones have a power of two values per channel (8, 4 * 4, 2 * 2 * 4), so
# their statistics are exact (``reference.kinds.data``: the draw's grid).
NAMED_1D = (
    configuration("the plainest", (4, 3)),
    configuration("batch of two", (2, 3)),
    configuration("(N, C, L) input", (3, 2, 5)),
    configuration("one example of (C, L)", (1, 3, 4)),
    configuration(LARGE_MEAN, (8, 3), LARGE_MEAN),
    configuration("large mean, tiny variance, (N, C, L)", (4, 2, 4), LARGE_MEAN),
    configuration("momentum 0.3", (5, 2), momentum=0.3),
    configuration("eps 0.01", (3, 4), eps=0.01),
    configuration("one feature", (6, 1)),
    configuration("non-contiguous input", (5, 4), contiguous=False),
)

NAMED_2D = (
    configuration("the plainest", (2, 3, 2, 3)),
    configuration("one example", (1, 2, 3, 3)),
    configuration("batch of two, 1x1 positions", (2, 3, 1, 1)),
    configuration("batch > 2", (4, 2, 3, 2)),
    configuration(LARGE_MEAN, (2, 2, 2, 4), LARGE_MEAN),
    configuration("momentum 0.3", (3, 2, 2, 2), momentum=0.3),
    configuration("one channel", (3, 1, 2, 3)),
    configuration("higher than wide", (2, 3, 4, 2)),
    configuration("non-contiguous input", (3, 2, 3, 4), contiguous=False),
)


def random_1d(name: str, r: Draw) -> Configuration:
    n = r(1, 5)
    shape = (n + 1, r(1, 4)) if r(0, 1) else (n, r(1, 3), r(2, 5))   # training needs M > 1
    return configuration(name, shape, contiguous=bool(r(0, 3)))


def random_2d(name: str, r: Draw) -> Configuration:
    n, h, w = r(1, 4), r(1, 4), r(1, 4)
    if n * h * w == 1:
        n = 2
    return configuration(name, (n, r(1, 3), h, w), contiguous=bool(r(0, 3)))


def values_per_channel(c: Configuration, x: np.ndarray) -> int:
    """``M``: the values one channel's statistics are taken over."""
    return int(np.prod(c.shape)) // c.shape[1]


def large_mean(c: Configuration, x: np.ndarray) -> bool:
    return c.draw == LARGE_MEAN


def positions(c: Configuration, x: np.ndarray) -> bool:
    """More than one position per example: ``(N, C, L)`` with L > 1, or H * W > 1."""
    return int(np.prod(c.shape[2:])) > 1


SHARED = (
    (LARGE_MEAN.replace(", ", " with a "), large_mean),
    ("values of order one", negate(large_mean)),
    ("momentum other than 0.1", setting("momentum", lambda m: m != 0.1)),
    ("eps other than 1e-5", setting("eps", lambda e: e != 1e-5)),
    ("several channels", setting("channels", lambda c: c > 1)),
    ("one channel", setting("channels", lambda c: c == 1)),
    ("two values per channel", lambda c, x: values_per_channel(c, x) == 2),
    NON_CONTIGUOUS,
)
CONDITIONS_1D = (
    ("(N, C, L) input", lambda c, x: len(c.shape) == 3),
    ("(N, D) input", lambda c, x: len(c.shape) == 2),
    *BATCH, *SHARED,
)
CONDITIONS_2D = (
    *BATCH,
    ("more than one position (H x W > 1)", positions), ("1x1 positions", negate(positions)),
    *SHARED,
)


def settings(layer: Any, kind: str) -> dict[str, Any]:
    """A batch norm's channels (its weight's length), ``eps`` and ``momentum`` (default
    PyTorch's, 1e-5 and 0.1; None is a plain average), as ``BatchNorm1D``'s arguments."""
    return {"num_features": layer.params["weight"].shape[0],
            "eps": layer_setting(layer, "eps", 1e-5, kind),
            "momentum": getattr(layer, "momentum", 0.1)}


def twin(layer: Any, dtype: torch.dtype, kind: str) -> nn.Module:
    """``nn.BatchNorm1d`` / ``BatchNorm2d`` with ``layer``'s eps and momentum and its running
    statistics (``layer.buffers``, those it keeps)."""
    module = (nn.BatchNorm2d if kind == "batchnorm2d" else nn.BatchNorm1d)(
        **settings(layer, kind), dtype=dtype)
    with torch.no_grad():
        for key, value in getattr(layer, "buffers", {}).items():
            getattr(module, key).copy_(torch.from_numpy(np.array(value)))
    return module


def rebuild(layer: Any, input_shape: tuple[int, ...], kind: str
            ) -> tuple[tuple, dict[str, Any]]:
    s = settings(layer, kind)
    return ((s["num_features"],), {"eps": s["eps"], "momentum": s["momentum"],
                                   "dtype": layer.params["weight"].dtype})


# ---- the procedure ----------------------------------------------------------------------

#: A style's convention (``check_conventions`` of its class): the running variance is
#: updated with the biased batch variance, the one that normalises (CS231n's).
BIASED_RUNNING_VAR = ("its running variance is updated with the biased batch variance (the "
                      "one that normalises; PyTorch's uses the unbiased one): the running "
                      "var is checked against that update")
#: A style's convention: no backward in eval mode (CS231n's assignment differentiates the
#: training forward only).
NO_EVAL_BACKWARD = "eval mode is checked in its forward pass only (it has no eval backward)"


def set_mode(impl: Any, training: bool) -> None:
    """Put ``impl`` in training or eval mode: its ``train()`` / ``eval()`` if it has them,
    else its ``training`` attribute."""
    method = getattr(impl, "train" if training else "eval", None)
    if callable(method):
        method()
    else:
        impl.training = training


def running_statistics(x: np.ndarray, steps: list[np.ndarray], momentum: float | None,
                       biased: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """The running mean and variance after each batch of ``steps`` (``(N, C, ...)``
    arrays), from PyTorch's initial 0 and 1, with the unbiased batch variance (PyTorch's)
    or the biased one (``biased``). NumPy, mean subtracted first: exact on the battery's
    grids."""
    axes = (0, *range(2, x.ndim))
    mean_run, var_run = np.zeros(x.shape[1]), np.ones(x.shape[1])
    after = []
    for k, batch in enumerate(steps, 1):
        m = batch.size // batch.shape[1]
        mean = batch.mean(axis=axes)
        var = np.mean((batch - mean.reshape(1, -1, *[1] * (x.ndim - 2))) ** 2, axis=axes)
        if not biased:
            var = var * m / (m - 1)
        factor = 1 / k if momentum is None else momentum
        mean_run = (1 - factor) * mean_run + factor * mean
        var_run = (1 - factor) * var_run + factor * var
        after.append((mean_run, var_run))
    return after


def eval_quantities(module: nn.Module, data: Data) -> dict[str, np.ndarray]:
    """``EVAL``: ``module`` (a PyTorch batch norm, weights set) in eval mode on the eval
    batch, its upstream gradient sent back."""
    module.eval()
    module.zero_grad()
    xt = torch.from_numpy(data.extra["eval batch"].copy()).requires_grad_(True)
    yt = module(xt)
    yt.backward(torch.from_numpy(data.extra["eval grad"]))
    return {"eval output": yt.detach().numpy(), "eval grad input": xt.grad.numpy(),
            "eval grad weight": module.weight.grad.numpy().copy(),
            "eval grad bias": module.bias.grad.numpy().copy()}


class BatchNormProcedure(LayerProcedure):
    """A batch norm's check: ``STEPS`` training batches, then eval mode.

    Quantities, in order: on the first training batch ``output``, ``grad input``, ``grad
    weight``, ``grad bias`` (a random upstream gradient); after the ``k``-th training
    forward ``running mean after step k`` and ``running var after step k`` (the layer's
    ``buffers``, PyTorch's keys); then in eval mode, on a new batch, ``eval output`` and
    its gradients (``EVAL``). Each later batch is shifted by ``k - 1`` from the first, so
    the running mean has to follow. The layer goes to eval mode by its ``eval()`` if it
    has one, else by ``training = False``; it is never given its running statistics (it
    starts from its own, PyTorch's 0 and 1).

    PyTorch's side is its module (``nn.BatchNorm1d`` / ``2d``, the kind's twin). On a
    large mean with a tiny variance its CPU kernel computes ``x * a + b`` and loses about
    ``eps_64 |x| a`` there (1.8e-10 at a mean of 1e4, a variance of 1e-8: far past
    1e-12), so the first batch's output and gradients are PyTorch's on ``x - OFFSET``
    instead, which is exact on the draw's grid: training-mode batch norm does not change
    when a constant is subtracted from its input. The running statistics are PyTorch's
    module's on ``x`` itself (exact there).

    A style declaring ``BIASED_RUNNING_VAR`` (in its class's ``check_conventions``) has
    its running variance, and eval mode, compared with what the biased update gives
    (``Data.convention_offsets``: PyTorch's module run again in eval mode with that
    running variance); one declaring ``NO_EVAL_BACKWARD`` has its eval gradients not
    compared.
    """

    def where(self, kind: Kind, q: str) -> str:
        """Which part computes ``q``: eval mode's quantities are the layer's others, in eval
        mode; the running statistics are what its training forward keeps."""
        if q.startswith("eval "):
            return f"{self.where(kind, q.removeprefix('eval '))}, in eval mode"
        if not q.startswith("grad ") and q != kind.output_quantity:
            return f"the forward pass: its {q}"
        return super().where(kind, q)

    def reference(self, kind: Kind, config: Configuration,
                  rng: np.random.Generator) -> tuple[Data, dict[str, np.ndarray]]:
        layer = kind.scratchnet(*config.args, **config.options)
        data = draw_data(kind, config, rng, {k: p.shape for k, p in layer.params.items()})
        shift = OFFSET if config.draw == LARGE_MEAN else 0.0
        eps = layer.eps

        def train_fn(xt: torch.Tensor, pt: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.batch_norm(xt, None, None, pt["weight"], pt["bias"], training=True,
                                eps=eps)

        draw_gradients(data, data.x.shape, kind.input_quantity, rng)
        quantities = torch_layer_quantities(train_fn, data.x - shift, data.weights, data.grad_y)
        batches = [data.x] + [draw_input(config, rng) + k for k in range(1, STEPS)]
        for k, batch in enumerate(batches[1:], 2):
            data.extra[f"batch {k}"] = batch
        data.extra["eval batch"] = draw_input(config, rng) + 0.5
        data.extra["eval grad"] = rng.standard_normal(config.shape)
        for q in EVAL[1:]:
            data.directions[q] = rng.standard_normal(data.directions[q.removeprefix("eval ")]
                                                     .shape)
        module = twin(layer, torch.float64, kind.name)
        with torch.no_grad():
            for key, value in data.weights.items():
                getattr(module, key).copy_(torch.from_numpy(value))
            for k, batch in enumerate(batches, 1):
                module(torch.from_numpy(batch))
                quantities[f"running mean after step {k}"] = module.running_mean.numpy().copy()
                quantities[f"running var after step {k}"] = module.running_var.numpy().copy()
        quantities.update(eval_quantities(module, data))
        # The biased convention: its running variances, and eval mode with the last one.
        unbiased, biased = (running_statistics(data.x, batches, layer.momentum, b)
                            for b in (False, True))
        offsets = {f"running var after step {k}": u[1] - b[1]
                   for k, (u, b) in enumerate(zip(unbiased, biased, strict=True), 1)}
        with torch.no_grad():
            module.running_var += torch.from_numpy(biased[-1][1] - unbiased[-1][1])
        offsets |= {q: quantities[q] - value for q, value in eval_quantities(module, data).items()}
        data.convention_offsets[BIASED_RUNNING_VAR] = offsets
        return data, quantities

    def run(self, layer: Any, data: Data, quantities: list[str], run: Run, contiguous: bool,
            finite_differences: bool, thorough: bool) -> None:
        first = quantities[:4]
        super().run(layer, data, first, run, contiguous, False, thorough)
        for q, value in run.values.items():        # its grads may be rewritten in place
            run.values[q] = np.array(value)
        if run.error is not None:
            run.fail(quantities, run.error)
            return
        conventions = getattr(type(layer), "check_conventions", ())
        offsets = data.convention_offsets.get(BIASED_RUNNING_VAR, {}) if (
            BIASED_RUNNING_VAR in conventions) else {}
        prepare = (lambda a: a.copy()) if contiguous else non_contiguous
        for k in range(1, STEPS + 1):
            if k > 1:
                try:
                    layer.forward(prepare(data.extra[f"batch {k}"]))
                except Exception as err:
                    run.stop(quantities, f"forward (training step {k})", err)
                    return
            self.record_buffers(layer, k, run, offsets)
        try:
            set_mode(layer, training=False)
        except Exception as err:
            run.stop(quantities, "switching to eval mode", err)
            return
        self.run_eval(layer, data, run, prepare, NO_EVAL_BACKWARD in conventions, thorough)
        for q in EVAL:
            if q in run.values and q in offsets and run.values[q].shape == offsets[q].shape:
                run.values[q] = run.values[q] + offsets[q]
        if finite_differences:
            self.finite_differences(layer, data, run)

    @staticmethod
    def record_buffers(layer: Any, k: int, run: Run,
                       offsets: dict[str, np.ndarray]) -> None:
        """Record the layer's running statistics after training step ``k``."""
        try:
            buffers = getattr(layer, "buffers", None)
        except Exception as err:                  # a buffers property that raises
            run.stop([f"running mean after step {k}", f"running var after step {k}"],
                     "reading its buffers", err)
            return
        for key, q in (("running_mean", f"running mean after step {k}"),
                       ("running_var", f"running var after step {k}")):
            if not isinstance(buffers, dict) or key not in buffers:
                run.failures[q] = (f"buffers has no '{key}' after a training forward (a batch "
                                   f"norm keeps its running statistics in a dict buffers, "
                                   f"PyTorch's keys)")
                continue
            try:
                value = as_array(buffers[key], f"buffers['{key}']", "an array").copy()
            except Exception as err:
                run.failures[q] = str(err)
                continue
            if q in offsets and value.shape == offsets[q].shape:
                value = value + offsets[q]
            run.values[q] = value

    def run_eval(self, layer: Any, data: Data, run: Run, prepare: Callable,
                 forward_only: bool, thorough: bool) -> None:
        """Eval mode on the eval batch: ``eval output`` and (unless ``forward_only``) its
        gradients, recorded as the training batch's are."""
        inner = Run()
        eval_data = Data(data.extra["eval batch"], None, data.weights, data.extra["eval grad"])
        contiguous = prepare is not non_contiguous
        names = ["output", "grad input", "grad weight", "grad bias"]
        if forward_only:
            try:
                inner.values["output"] = as_array(layer.forward(prepare(eval_data.x)),
                                                  "forward", "the output array")
            except Exception as err:
                inner.stop(names[:1], "forward", err)
            for q in names[1:]:
                inner.skipped[q] = f"not compared: {NO_EVAL_BACKWARD}"
        else:
            super().run(layer, eval_data, names, inner, contiguous, False, thorough)
        for outcome in ("values", "failures", "skipped"):
            getattr(run, outcome).update({f"eval {q}": v
                                          for q, v in getattr(inner, outcome).items()})
        run.warnings += inner.warnings
        if inner.error is not None and run.error is None:
            run.error, run.error_where, run.protocol = (
                f"in eval mode, {inner.error}", inner.error_where, inner.protocol)

    @staticmethod
    def finite_differences(layer: Any, data: Data, run: Run) -> None:
        """Finite differences of the layer's own forward pass: eval mode's gradients
        (in eval mode), then the first batch's (back in training mode)."""
        for mode, x_source, grad_y, prefix in (
                (False, data.extra["eval batch"], data.extra["eval grad"], "eval "),
                (True, data.x, data.grad_y, "")):
            try:
                set_mode(layer, training=mode)
            except Exception:
                return
            x = x_source.copy()

            def f(x: np.ndarray = x, grad_y: np.ndarray = grad_y) -> float:
                return float(np.sum(grad_y * layer.forward(x.copy())))

            arrays = {f"{prefix}grad input": x,
                      f"{prefix}grad weight": layer.params["weight"],
                      f"{prefix}grad bias": layer.params["bias"]}
            fd_check(f, arrays, data, run)


PROCEDURE = BatchNormProcedure()


# ---- CS231n's functions -----------------------------------------------------------------

MOMENTUM_OLD = ("bn_param['momentum'] is the weight of the old running value: it is given "
                "1 - PyTorch's momentum (0.9 for 0.1)")
RUNNING_IN_PARAM = ("the running statistics live in bn_param, from PyTorch's initial 0 and "
                    "1; eval mode is bn_param['mode'] = 'test'")


def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str],
                 rows: bool = False) -> type:
    """The protocol class calling a CS231n batch-norm pair in its own conventions:
    ``forward(x, gamma, beta, bn_param) -> (out, cache)``, ``backward(dout, cache) -> (dx,
    dgamma, dbeta)``; ``bn_param`` (``mode``, ``eps``, ``momentum``, ``running_mean``,
    ``running_var``) kept between calls. ``rows``: ``(N, C, L)`` is handed as ``(N * L,
    C)`` rows (``batchnorm_forward`` takes ``(N, D)``)."""

    class FunctionBatchNorm:
        check_conventions = (BIASED_RUNNING_VAR, NO_EVAL_BACKWARD)

        def __init__(self, num_features: int, eps: float = 1e-5,
                     momentum: float | None = 0.1) -> None:
            if momentum is None:
                raise NotSupportedError("bn_param's momentum is a number (no momentum=None, "
                                        "PyTorch's plain average)")
            self.params = {"weight": np.ones(num_features), "bias": np.zeros(num_features)}
            self.grads: dict[str, Any] = {}
            self.training = True
            self.bn_param = {"mode": "train", "eps": eps, "momentum": 1 - momentum,
                             "running_mean": np.zeros(num_features),
                             "running_var": np.ones(num_features)}

        @property
        def buffers(self) -> dict[str, Any]:
            return {k: self.bn_param[k] for k in ("running_mean", "running_var")
                    if k in self.bn_param}

        def eval(self) -> Any:
            self.training = False
            return self

        def train(self) -> Any:
            self.training = True
            return self

        def forward(self, x: np.ndarray) -> Any:
            self.bn_param["mode"] = "train" if self.training else "test"
            self.shape = x.shape
            if rows and x.ndim == 3:
                x = x.transpose(0, 2, 1).reshape(-1, x.shape[1])
            out, self.cache = unpack(forward(x, self.params["weight"], self.params["bias"],
                                             self.bn_param), ("out", "cache"), names[0])
            if rows and len(self.shape) == 3:
                n, c, length = self.shape
                out = np.asarray(out).reshape(n, length, c).transpose(0, 2, 1)
            return out

        def backward(self, dout: np.ndarray) -> Any:
            if rows and dout.ndim == 3:
                dout = dout.transpose(0, 2, 1).reshape(-1, dout.shape[1])
            dx, dgamma, dbeta = unpack(backward(dout, self.cache), ("dx", "dgamma", "dbeta"),
                                       names[1])
            self.grads = {"weight": dgamma, "bias": dbeta}
            if rows and len(self.shape) == 3:
                n, c, length = self.shape
                dx = np.asarray(dx).reshape(n, length, c).transpose(0, 2, 1)
            return dx

    return FunctionBatchNorm


FUNCTIONS_1D = FunctionStyle(
    (("batchnorm_forward", "batchnorm_backward"), ("batchnorm_forward", "batchnorm_backward_alt")),
    lambda forward, backward, names: cs231n_layer(forward, backward, names, rows=True),
    (MOMENTUM_OLD, BIASED_RUNNING_VAR, RUNNING_IN_PARAM, NO_EVAL_BACKWARD,
     "x: (N, D); (N, C, L) is handed as (N * L, C) rows"))
FUNCTIONS_2D = FunctionStyle(
    (("spatial_batchnorm_forward", "spatial_batchnorm_backward"),),
    cs231n_layer, (MOMENTUM_OLD, BIASED_RUNNING_VAR, RUNNING_IN_PARAM, NO_EVAL_BACKWARD))

KIND_1D = Kind("batchnorm1d", BatchNorm1D, NAMED_1D, random_1d, CONDITIONS_1D,
               lambda layer, dtype: twin(layer, dtype, "batchnorm1d"),
               lambda layer, shape: rebuild(layer, shape, "batchnorm1d"),
               functions=FUNCTIONS_1D, procedure=PROCEDURE)
KIND_2D = Kind("batchnorm2d", BatchNorm2D, NAMED_2D, random_2d, CONDITIONS_2D,
               lambda layer, dtype: twin(layer, dtype, "batchnorm2d"),
               lambda layer, shape: rebuild(layer, shape, "batchnorm2d"),
               functions=FUNCTIONS_2D, procedure=PROCEDURE)
