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

This module computes; ``reports/relu_boundary_figures.py`` draws and
``reports/relu_boundary_page.py`` writes the Markdown, from what it computed.
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from reference.lockstep import param_gap, train_lockstep
from reference.twin import to_torch
from reports import relu_boundary_figures as figures
from reports import relu_boundary_page as markdown
from reports import relu_sums
from reports.machine import environment
from scratchnet import Dense, ReLU, Sequential
from scratchnet.atomic import write_atomically
from scratchnet.data.moons import two_moons
from scratchnet.train import TrainConfig

NAME = "relu-boundary"
TITLE = "ReLU networks draw nonlinear decision boundaries (the seed's section 2)"
MODEL_NAMES = {"relu": "ReLU network", "linear": "linear model"}
MODELS = tuple(MODEL_NAMES)
# The horizontal line the boundary-crossing count uses: it runs through both moons' tips.
CROSSING_LINE_Y = 0.25
# Where the boundaries are drawn and compared: the data with a margin around it.
GRID_X, GRID_Y = (-1.6, 2.6), (-1.1, 1.6)
FIT_TARGET = "sin(5x)"
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
    """The smooth target eq. (25) is fitted to, :data:`FIT_TARGET` on ``[0, 1]``.

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


# ------------------------------------------------------------------------ results


def grid_margins(trained: dict[str, Trained], points: np.ndarray
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{model: (scratchnet's margins, the twin's margins)}`` at ``points: (M, 2)``."""
    return {model: (margin(t.net, points), torch_margin(t.twin, points))
            for model, t in trained.items()}


def _finite(value: float) -> float | None:
    """``value``, or None for an infinite end of a piece (JSON has no infinity)."""
    return None if math.isinf(value) else value


def summarize(trained: dict[str, Trained], margins: dict[str, tuple[np.ndarray, np.ndarray]],
              errors: pd.DataFrame, settings: Settings, seconds: float,
              command: str) -> dict[str, Any]:
    """Every figure of the page, as JSON-ready values (``margins``: of :func:`grid_margins`
    on the grid)."""
    out: dict[str, Any] = {"name": NAME, "title": TITLE, "settings": settings.to_dict(),
                           "models": MODEL_NAMES, "crossing_line_y": CROSSING_LINE_Y,
                           "fit_target": FIT_TARGET}
    for model, t in trained.items():
        last = t.history.iloc[-1]
        ours, theirs = margins[model]
        out |= {
            f"{model}_test_accuracy": float(last["scratchnet_test_acc"]),
            f"torch_{model}_test_accuracy": float(last["torch_test_acc"]),
            f"{model}_train_accuracy": float(last["scratchnet_train_acc"]),
            f"{model}_param_gap": param_gap(t.net, t.twin),
            f"{model}_test_prediction_agreement": float(last["prediction_agreement"]),
            f"{model}_grid_prediction_agreement": float(np.mean((ours > 0) == (theirs > 0))),
            f"{model}_grid_margin_gap": float(np.max(np.abs(ours - theirs))),
            f"{model}_line_crossings": line_crossings(t.net),
        }
    eq23 = relu_sums.pieces(relu_sums.EQ23_SHIFTS, relu_sums.EQ23_COEFFICIENTS)
    out |= {
        "param_gap": max(out[f"{model}_param_gap"] for model in trained),
        "eq23_pieces": [{"start": _finite(p.start), "end": _finite(p.end), "slope": p.slope,
                         "intercept": p.intercept} for p in eq23],
        "eq23_jumps": relu_sums.jumps(eq23),
        "eq24_as_printed_jumps": relu_sums.jumps(relu_sums.seed_eq24_pieces()),
        "fit": errors.to_dict("records"),
        "seconds": seconds,
        "command": command,
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d}",
        "environment": environment(),
    }
    return out


def draw(trained: dict[str, Trained], margins: dict[str, tuple[np.ndarray, np.ndarray]],
         fits: dict[int, tuple[float, np.ndarray]], errors: pd.DataFrame,
         settings: Settings, out_dir: Path) -> None:
    """The three PNGs (``reports/relu_boundary_figures.py``) into ``out_dir``."""
    figures.plot_eq23(out_dir / f"{NAME}-eq23.png")
    x = np.linspace(0, 1, 1001)
    curves = {n: relu_sums.relu_sum(x, even_shifts(n), c, b)
              for n, (b, c) in list(fits.items())[:3]}
    figures.plot_fit(x, fit_target(x), FIT_TARGET, curves, errors, out_dir / f"{NAME}-fit.png")
    xs, ys, _ = grid(settings)
    panels = []
    for model, t in trained.items():
        last, crossings = t.history.iloc[-1], line_crossings(t.net)
        title = (f"{MODEL_NAMES[model]}: test accuracy {last['scratchnet_test_acc']:.4f} "
                 f"(PyTorch {last['torch_test_acc']:.4f})\nits boundary crosses the line "
                 f"y = {CROSSING_LINE_Y} {crossings} time{'s' if crossings != 1 else ''}")
        ours, theirs = (m.reshape(len(ys), len(xs)) for m in margins[model])
        panels.append(figures.BoundaryPanel(title, ours, theirs))
    train_x, train_y, test_x, test_y = moons_split(settings)
    figures.plot_boundaries(panels, xs, ys, (train_x, train_y), (test_x, test_y),
                            CROSSING_LINE_Y, out_dir / f"{NAME}.png")


def section(out_dir: Path) -> list[str]:
    """The experiment's section of the accuracy report's README, from its JSON."""
    return markdown.section(json.loads((Path(out_dir) / f"{NAME}.json").read_text()))


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
    margins = grid_margins(trained, grid(settings)[2])
    draw(trained, margins, fits, errors, settings, out_dir)
    history = pd.concat([t.history.assign(model=model) for model, t in trained.items()])
    write_atomically(out_dir / f"{NAME}.csv", lambda f: history.to_csv(f, index=False))
    summary = summarize(trained, margins, errors, settings, time.perf_counter() - start,
                        command)
    write_atomically(out_dir / f"{NAME}.md",
                     lambda f: f.write(markdown.page(summary).encode()))
    write_atomically(out_dir / f"{NAME}.json",
                     lambda f: f.write(json.dumps(summary, indent=1).encode()))
    print(f"[{NAME}] test accuracy: " + "; ".join(
        f"{MODEL_NAMES[m]} scratchnet {summary[f'{m}_test_accuracy']:.4f}, PyTorch "
        f"{summary[f'torch_{m}_test_accuracy']:.4f}" for m in MODELS)
        + f"; param gap {summary['param_gap']:.1e}", file=sys.stderr)
    return summary


__all__ = ["NAME", "SETTINGS", "TITLE", "Settings", "Trained", "build_model", "class_changes",
           "draw", "finished", "fit_errors", "grid", "grid_margins", "line_crossings",
           "margin", "moons_split", "run", "section", "summarize", "torch_margin",
           "train_models"]
