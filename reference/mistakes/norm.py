"""Mistakes in batch norm (``batchnorm1d``, ``batchnorm2d``) and layer norm, and the plain
classes they are made in.

Both plain classes work on *rows*: batch norm moves the channels last and flattens the
rest, ``(M, C)``, one column per channel (as CS231n's spatial batch norm does); layer norm
flattens each example's normalised axes, ``(R, M)``, one row per example. Statistics are
then means down the columns (batch norm) or along the rows (layer norm).
"""

from __future__ import annotations

import functools

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet import BatchNorm1D, BatchNorm2D, LayerNorm


class PlainBatchNorm:
    """Batch norm in plain NumPy on ``(M, C)`` rows; mixed into ``BatchNorm1D`` and
    ``BatchNorm2D`` (their constructor, ``params``, ``grads``, ``buffers``, modes).

    Training: ``x_hat = (x - mean) / sqrt(var + eps)`` with the batch's mean and biased
    variance per channel, ``y = x_hat * weight + bias``, the running statistics moved
    ``momentum`` of the way to the batch's mean and *unbiased* variance; eval: the running
    statistics instead, nothing moved. Backward: through the mean and variance in
    training, the affine map in eval."""

    def order(self, ndim: int) -> tuple[int, ...]:
        """The axes' order that puts the channels (axis 1) last: ``(0, 2, 3, 1)``."""
        return (0, *range(2, ndim), 1)

    def to_rows(self, a: np.ndarray) -> np.ndarray:
        """``(N, C, ...)`` -> ``(M, C)``."""
        return a.transpose(self.order(a.ndim)).reshape(-1, a.shape[1])

    def from_rows(self, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The inverse of ``to_rows`` for an array of ``shape``."""
        order = self.order(len(shape))
        return rows.reshape([shape[i] for i in order]).transpose(np.argsort(order))

    def statistics(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch's mean and biased variance per channel, ``(C,)`` each."""
        mean = rows.mean(axis=0)
        return mean, ((rows - mean) ** 2).mean(axis=0)

    def eval_statistics(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.buffers["running_mean"], self.buffers["running_var"]

    def normalize(self, rows: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return (rows - mean) / np.sqrt(var + self.eps)

    def update_running(self, mean: np.ndarray, var: np.ndarray, m: int) -> None:
        """PyTorch's update, with the unbiased variance of the ``m`` values per channel."""
        self.buffers["num_batches_tracked"] += 1
        factor = (1 / int(self.buffers["num_batches_tracked"]) if self.momentum is None
                  else self.momentum)
        for key, value in (("running_mean", mean), ("running_var", var * m / (m - 1))):
            self.buffers[key][...] = (1 - factor) * self.buffers[key] + factor * value

    def input_grad(self, g: np.ndarray) -> np.ndarray:
        """``dE/dx`` rows from ``g = dE/dx_hat`` rows, through the mean and variance."""
        return (g - g.mean(axis=0) - self._x_hat * (g * self._x_hat).mean(axis=0)) * self._inv

    def forward(self, x: np.ndarray) -> np.ndarray:
        rows = self.to_rows(x)
        if self.training:
            mean, var = self.statistics(rows)
            self.update_running(mean, var, rows.shape[0])
        else:
            mean, var = self.eval_statistics(rows)
        self._x_hat = self.normalize(rows, mean, var)
        self._inv, self._shape, self._trained = 1 / np.sqrt(var + self.eps), x.shape, self.training
        return self.from_rows(self._x_hat * self.params["weight"] + self.params["bias"], x.shape)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        rows = self.to_rows(grad_y)
        self.grads["weight"][...] = (rows * self._x_hat).sum(axis=0)
        self.grads["bias"][...] = rows.sum(axis=0)
        g = rows * self.params["weight"]
        grad = self.input_grad(g) if self._trained else g * self._inv
        return self.from_rows(grad, self._shape)


class PlainBatchNorm1D(PlainBatchNorm, BatchNorm1D):
    """``BatchNorm1D`` in plain NumPy (``PlainBatchNorm``)."""


class PlainBatchNorm2D(PlainBatchNorm, BatchNorm2D):
    """``BatchNorm2D`` in plain NumPy (``PlainBatchNorm``)."""


# Real code (a custom batch norm module in a GAN repository): the running variance is moved
# towards `x.var(unbiased=False)`, the variance it normalises with.
class RunningVarBiased:
    def update_running(self, mean, var, m):
        self.buffers["num_batches_tracked"] += 1
        for key, value in (("running_mean", mean), ("running_var", var)):
            self.buffers[key][...] = (1 - self.momentum) * self.buffers[key] + self.momentum * value


# Real code: CS231n's docstring `running_mean = momentum * running_mean + (1 - momentum) *
# sample_mean` (its momentum is the old value's weight, 0.9) kept with PyTorch's momentum
# (0.1, the new value's weight).
class MomentumReversed:
    def update_running(self, mean, var, m):
        self.buffers["num_batches_tracked"] += 1
        for key, value in (("running_mean", mean), ("running_var", var * m / (m - 1))):
            self.buffers[key][...] = self.momentum * self.buffers[key] + (1 - self.momentum) * value


# Real code: `(x - mu) / (np.sqrt(var) + eps)`, eps added as it is in Adam's denominator.
class EpsOutsideSqrt:
    def normalize(self, rows, mean, var):
        return (rows - mean) / (np.sqrt(var) + self.eps)


# Real code: the backward of `x_hat = (x - mean) / std` taken as `dout * gamma / std`, the
# mean and the standard deviation treated as constants (right in eval mode only).
class StatsConstantBackward:
    def input_grad(self, g):
        return g * self._inv


# Real code: a class without a mode switch, normalising every batch with its own statistics.
class EvalBatchStatistics:
    def eval_statistics(self, rows):
        return self.statistics(rows)


# Real code (tutorials): `var = np.mean(x ** 2, axis=0) - mean ** 2`, one pass; on a mean of
# 1e4 with a variance of 1e-8 the two terms are 1e8 and cancel to rounding.
class OnePassVariance:
    def statistics(self, rows):
        mean = rows.mean(axis=0)
        return mean, (rows**2).mean(axis=0) - mean**2


# Real code (CS231n's spatial batch norm): `x.reshape(N * H * W, C)` without moving the
# channels last first, so each "channel" column mixes channels and positions.
class ReshapeWithoutTranspose:
    def order(self, ndim):
        return tuple(range(ndim))


@functools.cache
def variant(mistake: type, plain: type) -> type:
    """The class making ``mistake`` (a class with the one method it overrides) in
    ``plain``'s kind, named after both: ``RunningVarBiased1D``."""
    return type(f"{mistake.__name__}{plain.__name__.removeprefix('PlainBatchNorm')}",
                (mistake, plain), {"__doc__": f"{plain.__name__} with {mistake.__name__}."})


def both(mistake: type) -> tuple[type, type]:
    """``mistake`` made in ``PlainBatchNorm1D`` and in ``PlainBatchNorm2D``."""
    return variant(mistake, PlainBatchNorm1D), variant(mistake, PlainBatchNorm2D)


# Module attributes, so that each variant can be named as `norm.py:RunningVarBiased1D`.
ReshapeWithoutTranspose1D, ReshapeWithoutTranspose2D = both(ReshapeWithoutTranspose)
EpsOutsideSqrt1D, EpsOutsideSqrt2D = both(EpsOutsideSqrt)
OnePassVariance1D, OnePassVariance2D = both(OnePassVariance)
StatsConstantBackward1D, StatsConstantBackward2D = both(StatsConstantBackward)
MomentumReversed1D, MomentumReversed2D = both(MomentumReversed)
RunningVarBiased1D, RunningVarBiased2D = both(RunningVarBiased)
EvalBatchStatistics1D, EvalBatchStatistics2D = both(EvalBatchStatistics)


def batchnorm_catalogue(kind: str, plain: type, prefix: str) -> Catalogue:
    """One batch norm kind's catalogue: the mistakes above made in ``plain``."""
    rows_condition = "(N, C, L) input" if kind == "batchnorm1d" else None

    def entry(name, sentence, cls, quantity, shows_on=None):
        return Mistake(f"{prefix}-{name}", kind, sentence, None, variant(cls, plain), quantity,
                       shows_on)

    return Catalogue(
        kind, plain, "batch norm check (training steps, then eval mode)",
        shows_on=("a large mean with a tiny variance", *([rows_condition] if rows_condition
                                                          else [])),
        quantities=("output", "grad input", "grad weight", "grad bias",
                    "running mean after step", "running var after step", "eval output",
                    "eval grad input", "eval grad weight", "eval grad bias"),
        mistakes=(
            entry("reshape-without-transpose",
                  "The input is reshaped to (rows, C) without moving the channels last first "
                  "(x.reshape(-1, C)): each column mixes channels and positions, so the "
                  "statistics are not per channel.",
                  ReshapeWithoutTranspose, "output", rows_condition),
            entry("eps-outside-sqrt",
                  "eps is added to the standard deviation, (x - mean) / (sqrt(var) + eps), "
                  "instead of to the variance under the square root.",
                  EpsOutsideSqrt, "output"),
            entry("one-pass-variance",
                  "The variance is computed in one pass, E[x^2] - E[x]^2: on a large mean with "
                  "a tiny variance the two terms cancel and leave rounding.",
                  OnePassVariance, "output", "a large mean with a tiny variance"),
            entry("backward-stats-constant",
                  "The backward pass treats the batch's mean and variance as constants "
                  "(dx = dout * gamma / std): they depend on x, and their gradient is lost.",
                  StatsConstantBackward, "grad input"),
            entry("momentum-reversed",
                  "The running statistics keep `momentum` of the old value and take 1 - "
                  "momentum of the batch's (CS231n's convention) with PyTorch's momentum, "
                  "the weight of the batch's.",
                  MomentumReversed, "running mean after step 1"),
            entry("running-var-biased",
                  "The running variance is moved towards the biased batch variance (the one "
                  "that normalises); PyTorch's uses the unbiased one, times M / (M - 1).",
                  RunningVarBiased, "running var after step 1"),
            entry("eval-batch-statistics",
                  "Eval mode still normalises with the batch's own statistics instead of the "
                  "running ones.",
                  EvalBatchStatistics, "eval output"),
        ))


BATCHNORM1D = batchnorm_catalogue("batchnorm1d", PlainBatchNorm1D, "bn1d")
BATCHNORM2D = batchnorm_catalogue("batchnorm2d", PlainBatchNorm2D, "bn2d")


# ---- layer norm --------------------------------------------------------------------------

class PlainLayerNorm(LayerNorm):
    """``LayerNorm`` in plain NumPy on ``(R, M)`` rows, one per example (per leading index):
    each row normalised with its own mean and biased variance, then ``y = x_hat * weight +
    bias`` element by element; backward through the row's mean and variance."""

    def to_rows(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(-1, int(np.prod(self.normalized_shape)))

    def statistics(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = rows.mean(axis=1, keepdims=True)
        return mean, ((rows - mean) ** 2).mean(axis=1, keepdims=True)

    def normalize(self, rows: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        return (rows - mean) / np.sqrt(var + self.eps)

    def input_grad(self, g: np.ndarray) -> np.ndarray:
        """``dE/dx`` rows from ``g = dE/dx_hat`` rows."""
        h = self._x_hat
        return (g - g.mean(axis=1, keepdims=True)
                - h * (g * h).mean(axis=1, keepdims=True)) * self._inv

    def forward(self, x: np.ndarray) -> np.ndarray:
        rows = self.to_rows(x)
        mean, var = self.statistics(rows)
        self._x_hat = self.normalize(rows, mean, var)
        self._inv = 1 / np.sqrt(var + self.eps)
        return self._x_hat.reshape(x.shape) * self.params["weight"] + self.params["bias"]

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        k = len(self.normalized_shape)
        leading = tuple(range(grad_y.ndim - k))
        x_hat = self._x_hat.reshape(grad_y.shape)
        self.grads["weight"][...] = (grad_y * x_hat).sum(axis=leading)
        self.grads["bias"][...] = grad_y.sum(axis=leading)
        g = self.to_rows(grad_y * self.params["weight"])
        return self.input_grad(g).reshape(grad_y.shape)


# Real code: batch norm's `x.mean(axis=0)` kept when it was turned into layer norm: each
# feature is normalised over the batch instead of each example over its features.
class LayerNormOverBatch(PlainLayerNorm):
    def statistics(self, rows):
        mean = rows.mean(axis=0, keepdims=True)
        return mean, ((rows - mean) ** 2).mean(axis=0, keepdims=True)


# Real code: the layer norm backward derived from batch norm's with the mean's path lost,
# dx = (g - x_hat * mean(g * x_hat)) / std.
class LayerNormGradWithoutMean(PlainLayerNorm):
    def input_grad(self, g):
        h = self._x_hat
        return (g - h * (g * h).mean(axis=1, keepdims=True)) * self._inv


class LayerNormEpsOutsideSqrt(PlainLayerNorm):
    def normalize(self, rows, mean, var):
        return (rows - mean) / (np.sqrt(var) + self.eps)


class LayerNormOnePassVariance(PlainLayerNorm):
    def statistics(self, rows):
        mean = rows.mean(axis=1, keepdims=True)
        return mean, (rows**2).mean(axis=1, keepdims=True) - mean**2


# Real code (transformer tutorials): `x.mean(-1, keepdim=True)`, the last axis only, also
# for a normalized_shape of (C, H, W).
class LayerNormLastAxisOnly(PlainLayerNorm):
    def to_rows(self, x):
        return x.reshape(-1, x.shape[-1])


LAYERNORM = Catalogue(
    "layernorm", PlainLayerNorm, "layer check",
    shows_on=("a large mean with a tiny variance", "more than one normalised axis"),
    quantities=("output", "grad input", "grad weight", "grad bias"),
    mistakes=(
        Mistake("ln-over-batch-axis", "layernorm",
                "The statistics are taken over the batch (axis 0, batch norm's) instead of "
                "over each example's normalised axes.",
                None, LayerNormOverBatch, "output"),
        Mistake("ln-eps-outside-sqrt", "layernorm",
                "eps is added to the standard deviation instead of to the variance under the "
                "square root.",
                None, LayerNormEpsOutsideSqrt, "output"),
        Mistake("ln-one-pass-variance", "layernorm",
                "The variance is computed in one pass, E[x^2] - E[x]^2, which cancels to "
                "rounding on a large mean with a tiny variance.",
                None, LayerNormOnePassVariance, "output", "a large mean with a tiny variance"),
        Mistake("ln-last-axis-only", "layernorm",
                "Only the last axis is normalised, whatever normalized_shape says: with "
                "(C, H, W) each row of W values gets its own statistics.",
                None, LayerNormLastAxisOnly, "output", "more than one normalised axis"),
        Mistake("ln-grad-without-mean-term", "layernorm",
                "The input gradient loses the path through the mean: dx = (g - x_hat * "
                "mean(g * x_hat)) / std, without the - mean(g) term.",
                None, LayerNormGradWithoutMean, "grad input"),
    ))

CATALOGUES = (BATCHNORM1D, BATCHNORM2D, LAYERNORM)
