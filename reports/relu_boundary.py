"""The report's ``relu-boundary`` experiment: the seed's second question, shown and checked.

The seed's section 2 asks whether a network with ReLUs can have a nonlinear decision
boundary, and answers with sums of shifted ReLUs (eqs. 19-25, ``reports/relu_sums.py``).
This experiment shows the answer in four parts and writes, under the output directory:

1. ``relu-boundary-eq23.png``: eq. (23) computed by scratchnet's ``Dense`` and ``ReLU``
   layers, its breakpoints and the slope of each piece, beside the seed's eq. (24) as
   printed, whose pieces jump at every breakpoint;
2. ``relu-boundary-fit.png``: eq. (25) fitted by least squares to ``sin(5 x)`` on
   ``[0, 1]`` with 2, 4, 8, 16 and 32 pieces, and its error against the number of pieces;
3. ``relu-boundary.png``: a ReLU network and a linear model trained on two moons
   (``scratchnet.data.moons``) in lockstep with their PyTorch twins
   (``reference.lockstep``), their decision boundaries over the data, both frameworks';
4. ``relu-boundary.md``: the page that shows them, with the corrected eq. (24) and why
   the pieces join; ``relu-boundary.json``: every figure of the page;
   ``relu-boundary.csv``: the lockstep history of both models, epoch by epoch.

``reports/accuracy.py`` runs it as part of the report (``scratchnet report --only
relu-boundary``) and puts :func:`section` into its README. It takes a few seconds; a
``--quick`` run is the same run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from reference.lockstep import train_lockstep
from reference.twin import to_torch
from reports import relu_sums
from reports.machine import git_info, library_versions, machine_line
from scratchnet import Dense, ReLU, Sequential
from scratchnet.atomic import write_atomically
from scratchnet.data.moons import two_moons
from scratchnet.train import TrainConfig

NAME = "relu-boundary"
TITLE = "ReLU networks draw nonlinear decision boundaries (the seed's section 2)"
MODELS = ("relu", "linear")
MODEL_NAMES = {"relu": "ReLU network", "linear": "linear model"}
# The horizontal line the boundary-crossing count uses: it runs through both moons' tips.
CROSSING_LINE_Y = 0.25
# Where the boundaries are drawn and compared: the data with a margin around it.
GRID_X, GRID_Y = (-1.6, 2.6), (-1.1, 1.6)
MOONS_SGD = TrainConfig(epochs=40, batch_size=32, lr=0.1, momentum=0.9, seed=0)


@dataclass(frozen=True)
class Settings:
    """Everything that decides the experiment's results."""

    n_train: int = 500
    n_test: int = 1000
    noise: float = 0.1
    data_seed: int = 0
    hidden: int = 16            # ReLU units of the network's one hidden layer
    init_seed: int = 0
    config: TrainConfig = MOONS_SGD
    fit_pieces: tuple[int, ...] = (2, 4, 8, 16, 32)
    grid_points: int = 301      # per axis, for the boundary plots and comparisons

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["config"] = self.config.to_dict()
        out["fit_pieces"] = list(self.fit_pieces)
        return out


SETTINGS = Settings()


# ------------------------------------------------------------------------ the 2-D models


def moons_split(settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_x (n_train, 2), train_y, test_x (n_test, 2), test_y)``: one draw of
    ``two_moons`` (points in random order), its first ``n_train`` points for training."""
    x, y = two_moons(settings.n_train + settings.n_test, settings.noise, settings.data_seed)
    n = settings.n_train
    return x[:n], y[:n], x[n:], y[n:]


def build_model(model: str, settings: Settings) -> Sequential:
    """``"relu"``: ``Dense(2, hidden) -> ReLU -> Dense(hidden, 2)``; ``"linear"``:
    ``Dense(2, 2)``. Float64, PyTorch's default initialization from ``init_seed``."""
    rng = np.random.default_rng(settings.init_seed)
    if model == "relu":
        return Sequential(Dense(2, settings.hidden, rng=rng), ReLU(),
                          Dense(settings.hidden, 2, rng=rng))
    if model == "linear":
        return Sequential(Dense(2, 2, rng=rng))
    raise ValueError(f"build_model: model must be one of {MODELS}, got {model!r}")


@dataclass
class Trained:
    """A model after lockstep training: scratchnet's network, its twin, the history."""

    net: Sequential
    twin: nn.Module
    history: pd.DataFrame


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run PyTorch with ``n`` threads inside the block, as many as before after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_models(settings: Settings = SETTINGS) -> dict[str, Trained]:
    """Both models trained in lockstep with their twins on the moons, same config.

    PyTorch runs on one thread here: these matrices are a few dozen numbers, and
    handing each operation to a second thread costs more than the operation itself
    (on the 2-core machines, with other jobs running, training took 1.5 s on one
    thread and 6-37 s on two, interleaved in one process).
    """
    train_x, train_y, test_x, test_y = moons_split(settings)
    trained = {}
    with torch_threads(1):
        for model in MODELS:
            net = build_model(model, settings)
            twin = to_torch(net)
            history = train_lockstep(net, train_x, train_y, test_x, test_y, settings.config,
                                     progress=False, pause=0.0, twin=twin)
            trained[model] = Trained(net, twin, history)
    return trained


def margin(net: Sequential, points: np.ndarray) -> np.ndarray:
    """Logit of class 1 minus logit of class 0 at ``points: (M, 2)``: ``(M,)``; the
    decision boundary is where it is 0."""
    logits = net.infer(points)
    return logits[:, 1] - logits[:, 0]


@torch.no_grad()
def torch_margin(twin: nn.Module, points: np.ndarray) -> np.ndarray:
    """:func:`margin` of the PyTorch twin."""
    logits = twin(torch.from_numpy(points)).numpy()
    return logits[:, 1] - logits[:, 0]


def class_changes(margin_of: Callable[[np.ndarray], np.ndarray], start: tuple[float, float],
                  end: tuple[float, float], steps: int = 2001) -> int:
    """How often the predicted class changes along the segment ``start``-``end`` (sampled
    at ``steps`` points): how often the decision boundary crosses it. A straight boundary
    crosses a segment at most once."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    points = (1 - t) * np.asarray(start) + t * np.asarray(end)
    classes = margin_of(points) > 0
    return int(np.count_nonzero(classes[1:] != classes[:-1]))


def line_crossings(net: Sequential) -> int:
    """How often ``net``'s boundary crosses the line ``x2 = CROSSING_LINE_Y`` in the grid."""
    return class_changes(lambda points: margin(net, points), (GRID_X[0], CROSSING_LINE_Y),
                         (GRID_X[1], CROSSING_LINE_Y))


def grid(settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, points)``: the plotting grid's axes and its ``(len(ys) * len(xs), 2)``
    points, row by row."""
    xs = np.linspace(*GRID_X, settings.grid_points)
    ys = np.linspace(*GRID_Y, settings.grid_points)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


# ------------------------------------------------------------------------ the 1-D parts


def fit_target(x: np.ndarray) -> np.ndarray:
    """The smooth target eq. (25) is fitted to: ``sin(5 x)`` on ``[0, 1]``.

    (Not ``sin(2 pi x)`` or ``cos(2 pi x)``: they are symmetric about the middle
    breakpoint, and their best fits with 2 and 4 pieces come out alike, or straight.)
    """
    return np.sin(5 * x)


def even_shifts(n: int) -> np.ndarray:
    """``n`` breakpoints ``0, 1/n, ..., (n-1)/n``: eq. (25)'s ``x - i`` with the
    breakpoints ``1/n`` apart, so ``n`` ReLUs make ``n`` pieces on ``[0, 1]``."""
    return np.arange(n) / n


def fit_errors(settings: Settings) -> tuple[pd.DataFrame, dict[int, tuple[float, np.ndarray]]]:
    """Eq. (25) fitted to :func:`fit_target` with each number of pieces.

    Fitted on 1,001 evenly spaced points, measured on 10,001.

    Returns:
        A table with columns ``pieces, rms_error, max_error``, and ``{pieces: (b, c)}``.
    """
    x_fit, x_check = np.linspace(0, 1, 1001), np.linspace(0, 1, 10001)
    rows, fits = [], {}
    for n in settings.fit_pieces:
        bias, coefficients = relu_sums.fit_relu_sum(x_fit, fit_target(x_fit), even_shifts(n))
        error = relu_sums.relu_sum(x_check, even_shifts(n), coefficients, bias) - fit_target(
            x_check)
        rows.append({"pieces": n, "rms_error": float(np.sqrt(np.mean(error**2))),
                     "max_error": float(np.abs(error).max())})
        fits[n] = (bias, coefficients)
    return pd.DataFrame(rows), fits


# ------------------------------------------------------------------------ plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=90))
    _pyplot().close(fig)


def plot_eq23(path: Path) -> None:
    """Eq. (23) by scratchnet's layers (its pieces' slopes, its breakpoints) beside the
    seed's eq. (24) as printed."""
    plt = _pyplot()
    shifts, coefficients = relu_sums.EQ23_SHIFTS, relu_sums.EQ23_COEFFICIENTS
    x = np.linspace(-1, 8, 901)
    f = relu_sums.relu_sum(x, shifts, coefficients)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))

    left.plot(x, f, color="tab:blue", lw=2, label="eq. (23), scratchnet Dense + ReLU")
    left.plot(shifts, relu_sums.relu_sum(np.array(shifts), shifts, coefficients), "o",
              color="black", label="breakpoints")
    for piece in relu_sums.pieces(shifts, coefficients):
        lo, hi = max(piece.start, x[0]), min(piece.end, x[-1])
        mid = (lo + hi) / 2
        left.annotate(f"{_line(piece.slope, piece.intercept)}\nslope {piece.slope:g}",
                      (mid, piece(mid)), textcoords="offset points", xytext=(0, 12),
                      ha="center", fontsize=9)
    left.set(title="eq. (23): the pieces join, only the slope changes", xlabel="x",
             ylabel="f(x) = ReLU(x) - 3ReLU(x-2) + 5ReLU(x-4) - 6ReLU(x-6)")

    right.plot(x, f, color="lightgray", lw=4, label="eq. (23)")
    printed = relu_sums.seed_eq24_pieces(shifts, coefficients)
    for i, piece in enumerate(printed):
        xs = np.linspace(piece.start, min(piece.end, x[-1]), 50)
        right.plot(xs, piece(xs), color="tab:red", lw=2,
                   label="eq. (24) as printed" if i == 0 else None)
        right.plot([piece.start], [piece(piece.start)], "o", color="tab:red")
    for (before, after), jump in zip(pairwise(printed), relu_sums.jumps(printed),
                                     strict=True):
        s = after.start
        right.plot([s], [before(s)], "o", mfc="white", color="tab:red")
        right.plot([s, s], [before(s), after(s)], color="tab:red", ls="--", lw=1)
        right.annotate(f"jump {jump:+g}", (s, (before(s) + after(s)) / 2),
                       textcoords="offset points", xytext=(5, 0), fontsize=9,
                       color="tab:red")
    right.set(title="the seed's eq. (24): shifts dropped, a jump at each breakpoint",
              xlabel="x")
    for ax in (left, right):
        for s in shifts:
            ax.axvline(s, color="gray", ls=":", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    _save(fig, path)


def plot_fit(errors: pd.DataFrame, fits: dict[int, tuple[float, np.ndarray]],
             path: Path) -> None:
    """The fits of eq. (25) with few pieces over the target, and error against pieces."""
    plt = _pyplot()
    x = np.linspace(0, 1, 1001)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot(x, fit_target(x), color="black", lw=3, alpha=0.3, label="sin(5x)")
    for n in list(fits)[:3]:
        bias, coefficients = fits[n]
        left.plot(x, relu_sums.relu_sum(x, even_shifts(n), coefficients, bias),
                  label=f"{n} pieces")
    left.set(title="eq. (25) fitted by least squares", xlabel="x", ylabel="f(x)")
    right.loglog(errors["pieces"], errors["max_error"], "o-", label="largest error")
    right.loglog(errors["pieces"], errors["rms_error"], "s-", label="RMS error")
    n = errors["pieces"].to_numpy(dtype=float)
    right.loglog(n, errors["rms_error"].iloc[0] * (n / n[0]) ** -2.0, "k--", lw=1,
                 label="proportional to 1 / pieces$^2$")
    right.set(title="error against the number of pieces", xlabel="ReLU pieces",
              ylabel="error on [0, 1]")
    right.minorticks_off()
    right.set_xticks(n, [f"{int(v)}" for v in n])
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def plot_boundaries(trained: dict[str, Trained], settings: Settings, path: Path) -> None:
    """Both models' decision regions and boundaries over the moons, scratchnet's solid
    and the PyTorch twin's dashed, and the line the crossing count uses."""
    plt = _pyplot()
    train_x, train_y, test_x, test_y = moons_split(settings)
    xs, ys, points = grid(settings)
    shape = (len(ys), len(xs))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, model in zip(axes, MODELS, strict=True):
        net, twin, last = (trained[model].net, trained[model].twin,
                           trained[model].history.iloc[-1])
        ours = margin(net, points).reshape(shape)
        theirs = torch_margin(twin, points).reshape(shape)
        ax.contourf(xs, ys, ours > 0, levels=[-0.5, 0.5, 1.5], colors=["#dbe8f5", "#fbe3cf"])
        ax.contour(xs, ys, ours, levels=[0], colors="black", linewidths=2.5)
        ax.contour(xs, ys, theirs, levels=[0], colors="tab:orange", linewidths=1.2,
                   linestyles="--")
        for label, color in ((0, "tab:blue"), (1, "tab:orange")):
            ax.scatter(*train_x[train_y == label].T, s=8, color=color, alpha=0.6)
            ax.scatter(*test_x[test_y == label].T, s=14, marker="x", color=color, alpha=0.6)
        crossings = line_crossings(net)
        ax.axhline(CROSSING_LINE_Y, color="gray", ls=":", lw=1)
        ax.set(title=f"{MODEL_NAMES[model]}: test accuracy {last['scratchnet_test_acc']:.4f} "
                     f"(PyTorch {last['torch_test_acc']:.4f})\n"
                     f"its boundary crosses the line y = {CROSSING_LINE_Y} {crossings} "
                     f"time{'s' if crossings != 1 else ''}",
               xlabel="x1", xlim=GRID_X, ylim=GRID_Y)
    axes[0].set_ylabel("x2")
    axes[0].plot([], [], color="black", lw=2.5, label="scratchnet boundary")
    axes[0].plot([], [], color="tab:orange", ls="--", label="PyTorch twin's boundary")
    axes[0].scatter([], [], s=8, color="gray", label="training points")
    axes[0].scatter([], [], s=14, marker="x", color="gray", label="test points")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    _save(fig, path)


# ------------------------------------------------------------------------ results


def _finite(value: float) -> float | None:
    """``value``, or None for an infinite end of a piece (JSON has no infinity)."""
    return None if math.isinf(value) else value


def summarize(trained: dict[str, Trained], errors: pd.DataFrame, settings: Settings,
              seconds: float, command: str) -> dict[str, Any]:
    """Every figure of the page, as JSON-ready values."""
    _, _, points = grid(settings)
    out: dict[str, Any] = {"name": NAME, "settings": settings.to_dict()}
    for model in MODELS:
        net, twin, history = trained[model].net, trained[model].twin, trained[model].history
        last = history.iloc[-1]
        ours, theirs = margin(net, points), torch_margin(twin, points)
        out |= {
            f"{model}_test_accuracy": float(last["scratchnet_test_acc"]),
            f"torch_{model}_test_accuracy": float(last["torch_test_acc"]),
            f"{model}_train_accuracy": float(last["scratchnet_train_acc"]),
            f"{model}_param_gap": float(history["param_gap"].iloc[-1]),
            f"{model}_test_prediction_agreement": float(last["prediction_agreement"]),
            f"{model}_grid_prediction_agreement": float(np.mean((ours > 0) == (theirs > 0))),
            f"{model}_grid_margin_gap": float(np.max(np.abs(ours - theirs))),
            f"{model}_line_crossings": line_crossings(net),
        }
    eq23 = relu_sums.pieces(relu_sums.EQ23_SHIFTS, relu_sums.EQ23_COEFFICIENTS)
    out |= {
        "param_gap": max(out[f"{model}_param_gap"] for model in MODELS),
        "eq23_pieces": [{"start": _finite(p.start), "end": _finite(p.end), "slope": p.slope,
                         "intercept": p.intercept} for p in eq23],
        "eq23_jumps": relu_sums.jumps(eq23),
        "eq24_as_printed_jumps": relu_sums.jumps(relu_sums.seed_eq24_pieces()),
        "fit": errors.to_dict("records"),
        "seconds": seconds,
        "command": command,
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d}",
        "environment": {**library_versions(), "machine": machine_line(),
                        "commit": git_info()},
    }
    return out


def _line(slope: float, intercept: float) -> str:
    """``slope * x + intercept`` written out, e.g. ``-2x + 6``."""
    x_term = {0.0: "", 1.0: "x", -1.0: "-x"}.get(slope, f"{slope:g}x")
    if not x_term or intercept == 0:
        return x_term or f"{intercept:g}"
    return f"{x_term} {'+' if intercept > 0 else '-'} {abs(intercept):g}"


def _terms(k: int, shifted: bool) -> str:
    """The first ``k`` terms of eq. (23) on the piece where they are on: ``x - 3(x - 2)``
    (with the shifts), or ``x - 3x`` (as the seed's eq. 24 writes them)."""
    text = ""
    for i, (c, s) in enumerate(zip(relu_sums.EQ23_COEFFICIENTS[:k],
                                   relu_sums.EQ23_SHIFTS[:k], strict=True)):
        relu = f"(x - {s:g})" if shifted and s else "x"
        size = "" if abs(c) == 1 else f"{abs(c):g}"
        sign = ("-" if c < 0 else "") if i == 0 else (" - " if c < 0 else " + ")
        text += f"{sign}{size}{relu}"
    return text or "0"


def corrected_eq24(pieces: list[dict]) -> str:
    """Eq. (24) corrected, piece by piece beside the seed's, as a Markdown table."""
    def interval(start: float | None, end: float | None) -> str:
        return (f"x < {end:g}" if start is None else f"{start:g} <= x"
                + ("" if end is None else f" < {end:g}"))

    return pd.DataFrame([{
        "where": interval(p["start"], p["end"]),
        "f(x), with the shifts": f"`{_terms(k, shifted=True)}`",
        "=": f"`{_line(p['slope'], p['intercept'])}`",
        "slope": f"{p['slope']:g}",
        "the seed's eq. (24)": "(not given)" if k == 0 else f"`{_terms(k, shifted=False)}`",
    } for k, p in enumerate(pieces)]).to_markdown(index=False, disable_numparse=True)


def page(summary: dict[str, Any]) -> str:
    """``relu-boundary.md``: the four parts, every figure from ``summary``."""
    s, env = summary["settings"], summary["environment"]
    c = s["config"]
    eq23 = summary["eq23_pieces"]
    fit = pd.DataFrame(summary["fit"])
    ratios = (fit["max_error"] / fit["max_error"].shift(-1)).dropna()
    models = pd.DataFrame([{
        "model": MODEL_NAMES[m],
        "scratchnet test acc": f"{summary[f'{m}_test_accuracy']:.4f}",
        "PyTorch test acc": f"{summary[f'torch_{m}_test_accuracy']:.4f}",
        "train acc": f"{summary[f'{m}_train_accuracy']:.4f}",
        "param gap": f"{summary[f'{m}_param_gap']:.1e}",
        "same test predictions": f"{summary[f'{m}_test_prediction_agreement']:.4f}",
        "same class on the grid": f"{summary[f'{m}_grid_prediction_agreement']:.4f}",
        "largest margin gap on the grid": f"{summary[f'{m}_grid_margin_gap']:.1e}",
        f"crossings of y = {CROSSING_LINE_Y}": summary[f"{m}_line_crossings"],
    } for m in MODELS])
    fit_table = pd.DataFrame({
        "ReLU pieces": fit["pieces"],
        "RMS error": fit["rms_error"].map("{:.2e}".format),
        "largest error": fit["max_error"].map("{:.2e}".format),
    })
    lines = [
        f"# {TITLE}",
        "",
        f"Produced by `{summary['command']}` on {summary['date']} in "
        f"{summary['seconds']:.1f} seconds. Machine: {env['machine']}. Versions: Python "
        f"{env['Python']}, NumPy {env['numpy']}, PyTorch {env['torch']}. Code: "
        f"{env['commit']}. Every figure below is in "
        f"[relu-boundary.json](relu-boundary.json); the per-epoch lockstep history of both "
        f"models in [relu-boundary.csv](relu-boundary.csv). Back to the "
        f"[accuracy report](README.md).",
        "",
        "The seed's second question: can a network with ReLU activations have a nonlinear "
        "decision boundary? Its section 2 says yes: shifted ReLUs, `ReLU(x - c)`, are 0 "
        "left of `c` (eq. 21), so adding one to a function changes it only right of `c` "
        "(eq. 22), and a sum of them bends a line wherever we like (eqs. 23-25). Its "
        "example, eq. (23), is right; eq. (24), which writes it out piece by piece, drops "
        "the shifts.",
        "",
        "## 1. Eq. (23) and the seed's eq. (24)",
        "",
        "`f(x) = ReLU(x) - 3 ReLU(x - 2) + 5 ReLU(x - 4) - 6 ReLU(x - 6)`, computed by a "
        "scratchnet network: `Dense(1, 4)` (weights 1, biases 0, -2, -4, -6), `ReLU`, "
        "`Dense(4, 1)` (weights 1, -3, 5, -6, bias 0); `reports/relu_sums.py`.",
        "",
        "![eq. 23 and eq. 24 as printed](relu-boundary-eq23.png)",
        "",
        "The seed's eq. (24) gives the pieces `x`, `x - 3x`, `x - 3x + 5x`, "
        "`x - 3x + 5x - 6x`: the right slopes, but each piece goes through the origin, so "
        "it jumps at the breakpoints 2, 4 and 6 by "
        + ", ".join(f"{j:+g}" for j in summary["eq24_as_printed_jumps"])
        + " (each jump is `c_i s_i`, the term it dropped). Eq. (23) itself jumps by "
        + ", ".join(f"{j:g}" for j in summary["eq23_jumps"])
        + " at 0, 2, 4 and 6: it is continuous.",
        "",
        "## 2. Eq. (25) fitted to a smooth function",
        "",
        "`f(x) = b + sum_i c_i ReLU(x - s_i)` with `n` breakpoints `s_i = (i - 1) / n` "
        "(eq. 25's `x - i`, with the breakpoints `1/n` apart instead of 1: "
        "`ReLU(x - i/n) = ReLU(n x - i) / n`), so `n` ReLUs make `n` pieces on `[0, 1]`. "
        "`b` and `c` are the least-squares fit to `sin(5x)` at 1,001 evenly spaced "
        "points (`reports.relu_sums.fit_relu_sum`: the features are the ReLU layer's "
        "outputs); the errors are measured at 10,001 points.",
        "",
        "![fits and error against pieces](relu-boundary-fit.png)",
        "",
        fit_table.to_markdown(index=False, disable_numparse=True),
        "",
        "Each doubling of the pieces divides the largest error by "
        + ", ".join(f"{r:.1f}" for r in ratios)
        + ": about 4, the rate of a piecewise-linear approximation of a smooth function "
        "(its error shrinks with the square of the piece width). With enough pieces, "
        "eq. (25) comes as close to the target as we like.",
        "",
        "## 3. A ReLU network and a linear model on two moons",
        "",
        f"Two interleaved moons (`scratchnet.data.moons.two_moons`, noise {s['noise']}, "
        f"seed {s['data_seed']}): {s['n_train']} training points and {s['n_test']} "
        f"held-out test points of the same draw. The ReLU network is `Dense(2, "
        f"{s['hidden']}) -> ReLU -> Dense({s['hidden']}, 2)`, the linear model "
        f"`Dense(2, 2)`, both float64, initialized with seed {s['init_seed']} (PyTorch's "
        f"default initialization), trained with softmax cross-entropy "
        f"(`scratchnet.losses.SoftmaxCrossEntropy`) by {c['optimizer'].upper()} lr "
        f"{c['lr']}, momentum {c['momentum']}, batch {c['batch_size']}, {c['epochs']} "
        f"epochs, shuffle seed {c['seed']}, each in lockstep with its PyTorch twin "
        "(`reference.lockstep.train_lockstep`: same initial weights, same batches). The "
        "boundaries are compared on a "
        f"{s['grid_points']} x {s['grid_points']} grid over the plot.",
        "",
        "![decision boundaries of both models](relu-boundary.png)",
        "",
        models.to_markdown(index=False, disable_numparse=True),
        "",
        "The linear model's boundary is a straight line, and no line separates the moons: "
        "each moon's tip reaches into the other's hollow. The ReLU network's boundary "
        f"bends around them and crosses the line y = {CROSSING_LINE_Y} "
        f"{summary['relu_line_crossings']} times, which no straight line can. The PyTorch "
        "twin's boundary (dashed) lies on scratchnet's: the two predict the same class "
        "for every test point and every grid point.",
        "",
        "## 4. Eq. (24), corrected, and why the pieces join",
        "",
        corrected_eq24(eq23),
        "",
        "Each ReLU is 0 up to its own breakpoint and grows like `x - s` after it. At "
        "`x = s` it is still exactly 0, so switching it on adds nothing to the sum there: "
        "the piece to the right starts at the value where the piece to the left ended, and "
        "the pieces join. What changes at the breakpoint is the slope: from there on the "
        "ReLU adds `c` for every step to the right, so the slope of the sum grows by its "
        "coefficient `c` (here 0, then 1, 1 - 3 = -2, -2 + 5 = 3 and 3 - 6 = -3). A "
        "positive `c` bends the line up, a negative one bends it down, and more ReLUs "
        "bend it more often. Writing `x - 3x` instead of `x - 3(x - 2)` throws away the "
        "`+6` that keeps the pieces together, which is why the seed's eq. (24) jumps. A "
        "network's hidden layer does the same in 2-D: each ReLU unit folds along the line "
        "where its input `w . x + a` is 0, the output is a sum of such folded planes, and "
        "where that sum crosses 0 the decision boundary bends. The ReLU network of part 3 "
        "is exactly that: its logit difference is `b + sum_i c_i ReLU(w_i . x + a_i)`, "
        "eq. (25) with each shift `x - i` replaced by a line `w_i . x + a_i` in the plane.",
        "",
        "## Reproduce",
        "",
        "`scratchnet report --only relu-boundary` (also part of `make report`). Data, "
        "initialization and batches are seeded: the figures above, except the time, come "
        "out the same on a rerun.",
        "",
    ]
    return "\n".join(lines)


def section(out_dir: Path) -> list[str]:
    """The experiment's section of the accuracy report's README, from its JSON."""
    summary = json.loads((Path(out_dir) / f"{NAME}.json").read_text())
    rows = pd.DataFrame([{
        "model": MODEL_NAMES[m],
        "scratchnet test acc": f"{summary[f'{m}_test_accuracy']:.4f}",
        "PyTorch test acc": f"{summary[f'torch_{m}_test_accuracy']:.4f}",
        "param gap": f"{summary[f'{m}_param_gap']:.1e}",
        "same test predictions": f"{summary[f'{m}_test_prediction_agreement']:.4f}",
    } for m in MODELS])
    s = summary["settings"]
    return [
        f'<a id="{NAME}"></a>',
        f"## {TITLE}",
        "",
        f"The seed's second question, on two interleaved moons ({s['n_train']} training, "
        f"{s['n_test']} test points): a ReLU network (`Dense(2, {s['hidden']}) -> ReLU -> "
        f"Dense({s['hidden']}, 2)`) and a linear model (`Dense(2, 2)`), each trained in "
        f"lockstep with its PyTorch twin (float64, {s['config']['epochs']} epochs). Made "
        f"by `{summary['command']}` in {summary['seconds']:.1f} seconds.",
        "",
        rows.to_markdown(index=False, disable_numparse=True),
        "",
        "![decision boundaries](relu-boundary.png)",
        "",
        "The whole experiment (eq. 23 computed by scratchnet's layers beside the seed's "
        "eq. 24, eq. 25 fitted with 2-32 pieces, the corrected eq. 24 and why the pieces "
        f"join): [{NAME}.md]({NAME}.md); its figures: [{NAME}.json]({NAME}.json).",
        "",
    ]


def finished(out_dir: Path, settings: Settings = SETTINGS) -> bool:
    """Whether ``out_dir`` holds this experiment's results, made with ``settings``."""
    path = Path(out_dir) / f"{NAME}.json"
    try:
        return json.loads(path.read_text()).get("settings") == settings.to_dict()
    except (OSError, ValueError):
        return False


def run(out_dir: Path, command: str, settings: Settings = SETTINGS) -> dict[str, Any]:
    """Run the experiment and write its files into ``out_dir`` (which must exist)."""
    out_dir = Path(out_dir)
    start = time.perf_counter()
    trained = train_models(settings)
    errors, fits = fit_errors(settings)
    plot_eq23(out_dir / f"{NAME}-eq23.png")
    plot_fit(errors, fits, out_dir / f"{NAME}-fit.png")
    plot_boundaries(trained, settings, out_dir / f"{NAME}.png")
    history = pd.concat([t.history.assign(model=model) for model, t in trained.items()])
    write_atomically(out_dir / f"{NAME}.csv", lambda f: history.to_csv(f, index=False))
    summary = summarize(trained, errors, settings, time.perf_counter() - start, command)
    write_atomically(out_dir / f"{NAME}.md", lambda f: f.write(page(summary).encode()))
    write_atomically(out_dir / f"{NAME}.json",
                     lambda f: f.write(json.dumps(summary, indent=1).encode()))
    print(f"[{NAME}] test accuracy: " + "; ".join(
        f"{MODEL_NAMES[m]} scratchnet {summary[f'{m}_test_accuracy']:.4f}, PyTorch "
        f"{summary[f'torch_{m}_test_accuracy']:.4f}" for m in MODELS)
        + f"; param gap {summary['param_gap']:.1e}", file=sys.stderr)
    return summary


__all__ = ["NAME", "SETTINGS", "TITLE", "Settings", "Trained", "build_model", "class_changes",
           "finished", "fit_errors", "margin", "moons_split", "page", "run", "section",
           "summarize", "torch_margin", "train_models"]
