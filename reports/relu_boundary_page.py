"""The relu-boundary experiment's Markdown: its page and its section of the accuracy
report's README, written from the summary ``reports/relu_boundary.py`` makes (and stores
as ``relu-boundary.json``), so either can be written again from that file."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from reports import relu_sums
from reports.machine import header_line


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


def corrected_eq24() -> str:
    """Eq. (24) corrected, piece by piece beside the seed's, as a Markdown table."""
    def interval(piece: relu_sums.Piece) -> str:
        if math.isinf(piece.start):
            return f"x < {piece.end:g}"
        return f"{piece.start:g} <= x" + ("" if math.isinf(piece.end) else f" < {piece.end:g}")

    eq23 = relu_sums.pieces(relu_sums.EQ23_SHIFTS, relu_sums.EQ23_COEFFICIENTS)
    return pd.DataFrame([{
        "where": interval(p),
        "f(x), with the shifts": f"`{_terms(k, shifted=True)}`",
        "=": f"`{p.formula()}`",
        "slope": f"{p.slope:g}",
        "the seed's eq. (24)": "(not given)" if k == 0 else f"`{_terms(k, shifted=False)}`",
    } for k, p in enumerate(eq23)]).to_markdown(index=False, disable_numparse=True)


def model_table(summary: dict[str, Any], full: bool = True) -> str:
    """Both models' accuracies and agreement as a Markdown table; ``full``: also the
    training accuracy, the grid comparison and the line crossings."""
    rows = []
    for m, model in summary["models"].items():
        row = {
            "model": model,
            "scratchnet test acc": f"{summary[f'{m}_test_accuracy']:.4f}",
            "PyTorch test acc": f"{summary[f'torch_{m}_test_accuracy']:.4f}",
            "param gap": f"{summary[f'{m}_param_gap']:.1e}",
            "same test predictions": f"{summary[f'{m}_test_prediction_agreement']:.4f}",
        }
        if full:
            row |= {
                "train acc": f"{summary[f'{m}_train_accuracy']:.4f}",
                "same class on the grid": f"{summary[f'{m}_grid_prediction_agreement']:.4f}",
                "largest margin gap on the grid": f"{summary[f'{m}_grid_margin_gap']:.1e}",
                f"crossings of y = {summary['crossing_line_y']}":
                    str(summary[f"{m}_line_crossings"]),
            }
        rows.append(row)
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def page(summary: dict[str, Any]) -> str:
    """``relu-boundary.md``: the four parts, every figure from ``summary``."""
    s, env, name = summary["settings"], summary["environment"], summary["name"]
    c, line_y = s["config"], summary["crossing_line_y"]
    fit = pd.DataFrame(summary["fit"])
    ratios = (fit["max_error"] / fit["max_error"].shift(-1)).dropna()
    fit_table = pd.DataFrame({
        "ReLU pieces": fit["pieces"],
        "RMS error": fit["rms_error"].map("{:.2e}".format),
        "largest error": fit["max_error"].map("{:.2e}".format),
    })
    lines = [
        f"# {summary['title']}",
        "",
        f"Produced by `{summary['command']}` on {summary['date']} in "
        f"{summary['seconds']:.1f} seconds. {header_line(env, '1')} Every figure below is "
        f"in [{name}.json]({name}.json); the "
        f"per-epoch lockstep history of both models in [{name}.csv]({name}.csv). Back to "
        "the [accuracy report](README.md).",
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
        f"![eq. 23 and eq. 24 as printed]({name}-eq23.png)",
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
        f"`b` and `c` are the least-squares fit to `{summary['fit_target']}` at 1,001 "
        "evenly spaced points (`reports.relu_sums.fit_relu_sum`: the features are the ReLU "
        "layer's outputs); the errors are measured at 10,001 points.",
        "",
        f"![fits and error against pieces]({name}-fit.png)",
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
        f"![decision boundaries of both models]({name}.png)",
        "",
        model_table(summary),
        "",
        "The linear model's boundary is a straight line, and no line separates the moons: "
        "each moon's tip reaches into the other's hollow. The ReLU network's boundary "
        f"bends around them and crosses the line y = {line_y} "
        f"{summary['relu_line_crossings']} times, which no straight line can. The PyTorch "
        "twin's boundary (dashed) lies on scratchnet's: the two predict the same class "
        "for every test point and every grid point.",
        "",
        "## 4. Eq. (24), corrected, and why the pieces join",
        "",
        corrected_eq24(),
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
        f"`scratchnet report --only {name}` (also part of `make report`). Data, "
        "initialization and batches are seeded: the figures above, except the time, come "
        "out the same on a rerun.",
        "",
    ]
    return "\n".join(lines)


def section(summary: dict[str, Any]) -> list[str]:
    """The experiment's section of the accuracy report's README, from ``summary``."""
    name = summary["name"]
    s = summary["settings"]
    return [
        f'<a id="{name}"></a>',
        f"## {summary['title']}",
        "",
        f"The seed's second question, on two interleaved moons ({s['n_train']} training, "
        f"{s['n_test']} test points): a ReLU network (`Dense(2, {s['hidden']}) -> ReLU -> "
        f"Dense({s['hidden']}, 2)`) and a linear model (`Dense(2, 2)`), each trained in "
        f"lockstep with its PyTorch twin (float64, {s['config']['epochs']} epochs). Made "
        f"by `{summary['command']}` in {summary['seconds']:.1f} seconds.",
        "",
        model_table(summary, full=False),
        "",
        f"![decision boundaries]({name}.png)",
        "",
        "The whole experiment (eq. 23 computed by scratchnet's layers beside the seed's "
        "eq. 24, eq. 25 fitted with 2-32 pieces, the corrected eq. 24 and why the pieces "
        f"join): [{name}.md]({name}.md); its figures: [{name}.json]({name}.json).",
        "",
    ]


__all__ = ["corrected_eq24", "model_table", "page", "section"]
