"""The relu-boundary experiment's figures (PNG, matplotlib's Agg backend), drawn from the
numbers ``reports/relu_boundary.py`` computes."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from reports import relu_sums
from scratchnet.atomic import write_atomically


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=90))
    _pyplot().close(fig)


def plot_eq23(path: Path) -> None:
    """Eq. (23) by scratchnet's layers (its breakpoints, each piece's line and slope)
    beside the seed's eq. (24) as printed, with its jumps."""
    plt = _pyplot()
    shifts, coefficients = relu_sums.EQ23_SHIFTS, relu_sums.EQ23_COEFFICIENTS
    x = np.linspace(-1, 8, 901)
    f = relu_sums.relu_sum(x, shifts, coefficients)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))

    left.plot(x, f, color="tab:blue", lw=2, label="eq. (23), scratchnet Dense + ReLU")
    left.plot(shifts, relu_sums.relu_sum(np.array(shifts), shifts, coefficients), "o",
              color="black", label="breakpoints")
    for piece in relu_sums.pieces(shifts, coefficients):
        mid = (max(piece.start, x[0]) + min(piece.end, x[-1])) / 2
        left.annotate(f"{piece.formula()}\nslope {piece.slope:g}", (mid, piece(mid)),
                      textcoords="offset points", xytext=(0, 12), ha="center", fontsize=9)
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


def plot_fit(x: np.ndarray, target: np.ndarray, target_name: str,
             fits: dict[int, np.ndarray], errors: pd.DataFrame, path: Path) -> None:
    """Fits of eq. (25) over the target, and the error against the number of pieces.

    Args:
        x, target: ``(M,)`` points and the target's values there.
        target_name: the target's formula, for the legend.
        fits: ``{pieces: fitted values (M,)}`` for the fits to draw.
        errors: columns ``pieces, rms_error, max_error``.
        path: the PNG to write.
    """
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot(x, target, color="black", lw=3, alpha=0.3, label=target_name)
    for n, fitted in fits.items():
        left.plot(x, fitted, label=f"{n} pieces")
    left.set(title="eq. (25) fitted by least squares", xlabel="x", ylabel="f(x)")
    right.loglog(errors["pieces"], errors["max_error"], "o-", label="largest error")
    right.loglog(errors["pieces"], errors["rms_error"], "s-", label="RMS error")
    n = errors["pieces"].to_numpy(dtype=float)
    right.loglog(n, errors["rms_error"].iloc[0] * (n / n[0]) ** -2.0, "k--", lw=1,
                 label="proportional to 1 / pieces$^2$")
    right.set(title="error against the number of pieces", xlabel="ReLU pieces",
              ylabel=f"error on [{x[0]:g}, {x[-1]:g}]")
    right.minorticks_off()
    right.set_xticks(n, [f"{int(v)}" for v in n])
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


@dataclass(frozen=True)
class BoundaryPanel:
    """One model's panel: its title, and the logit margins of scratchnet's model
    (``ours``) and of its PyTorch twin (``theirs``) on the grid, ``(len(ys), len(xs))``."""

    title: str
    ours: np.ndarray
    theirs: np.ndarray


def plot_boundaries(panels: list[BoundaryPanel], xs: np.ndarray, ys: np.ndarray,
                    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                    line_y: float, path: Path) -> None:
    """The models' decision regions and boundaries over the data, side by side:
    scratchnet's boundary solid, the twin's dashed, and the line ``x2 = line_y``.

    Args:
        panels: one per model.
        xs, ys: the grid's axes.
        train, test: ``(points (N, 2), labels (N,))`` of each split.
        line_y: the height of the horizontal line the crossing count uses.
        path: the PNG to write.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5), sharey=True)
    for ax, panel in zip(np.atleast_1d(axes), panels, strict=True):
        ax.contourf(xs, ys, panel.ours > 0, levels=[-0.5, 0.5, 1.5],
                    colors=["#dbe8f5", "#fbe3cf"])
        ax.contour(xs, ys, panel.ours, levels=[0], colors="black", linewidths=2.5)
        ax.contour(xs, ys, panel.theirs, levels=[0], colors="tab:orange", linewidths=1.2,
                   linestyles="--")
        for label, color in ((0, "tab:blue"), (1, "tab:orange")):
            for (points, labels), marker, size in ((train, "o", 8), (test, "x", 14)):
                ax.scatter(*points[labels == label].T, s=size, marker=marker, color=color,
                           alpha=0.6)
        ax.axhline(line_y, color="gray", ls=":", lw=1)
        ax.set(title=panel.title, xlabel="x1", xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]))
    first = np.atleast_1d(axes)[0]
    first.set_ylabel("x2")
    first.plot([], [], color="black", lw=2.5, label="scratchnet boundary")
    first.plot([], [], color="tab:orange", ls="--", label="PyTorch twin's boundary")
    first.scatter([], [], s=8, color="gray", label="training points")
    first.scatter([], [], s=14, marker="x", color="gray", label="test points")
    first.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    _save(fig, path)


__all__ = ["BoundaryPanel", "plot_boundaries", "plot_eq23", "plot_fit"]
