"""The report of a check: the table (one row per configuration and quantity), the verdict
and the diagnosis, for a person (``text``) and for a grader (``to_json``)."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reference.agreement import errors, tolerance
from reference.check.diagnosis import Finding
from reference.kinds import Configuration
from reference.kinds.record import Run

COLUMNS = ["configuration", "setting", "quantity", "shape", "max_abs_err", "tolerance",
           "agrees", "fd_err", "fd_tolerance", "fd_agrees", "status"]

OK = "ok"


def row(config: Configuration, q: str, run: Run, reference: np.ndarray) -> dict[str, Any]:
    """The table row of quantity ``q`` of ``run`` in ``config``: its error against PyTorch's
    ``reference`` under the one rule (float64), its finite-difference error, and a status
    (``"ok"`` or what is wrong)."""
    r = {"configuration": config.name, "setting": config.describe(), "quantity": q,
         "shape": "x".join(map(str, np.shape(reference))), "max_abs_err": math.nan,
         "tolerance": math.nan, "agrees": None, "fd_err": math.nan, "fd_tolerance": math.nan,
         "fd_agrees": None, "status": OK}
    if run.unsupported is not None:
        r["status"] = f"not supported by this class: {run.unsupported}"
    elif q in run.failures:
        r["agrees"], r["status"] = False, run.failures[q]
    elif q in run.skipped:
        r["status"] = run.skipped[q]
    elif np.shape(run.values[q]) != np.shape(reference):
        r["agrees"] = False
        r["status"] = (f"shape {np.shape(run.values[q])}, expected PyTorch's "
                       f"{np.shape(reference)}")
    else:
        abs_err, _, scale = errors(run.values[q], reference)
        r["max_abs_err"], r["tolerance"] = abs_err, tolerance(np.float64) * scale
        r["agrees"] = bool(abs_err <= r["tolerance"])
        if not r["agrees"]:
            r["status"] = f"max abs error {abs_err:.3g} > tolerance {r['tolerance']:.3g}"
    if q in run.fd:
        r["fd_err"], r["fd_tolerance"] = run.fd[q]
        r["fd_agrees"] = bool(r["fd_err"] <= r["fd_tolerance"])
        if r["fd_agrees"] is False and r["status"] == OK:
            r["status"] = (f"finite differences of its own forward differ by "
                           f"{r['fd_err']:.3g} > {r['fd_tolerance']:.3g}")
    return r


@dataclass
class LayerReport:
    """What ``reference.check_layer`` found.

    Attributes:
        name: the class checked.
        kind: the kind it was checked as.
        table: one row per configuration and quantity (``COLUMNS``): errors against
            PyTorch (``agrees``) and against finite differences of its own forward pass
            (``fd_agrees``), None where not compared, and a status in words.
        passed: every quantity of every configuration the class takes agrees with both,
            and it takes at least one.
        verdict: one line saying so.
        diagnosis: the findings in sentences (``Finding.lines``), one quantity after
            another; empty when it passed.
        findings: the quantities that disagree with PyTorch, diagnosed.
        unsupported: configuration name -> why the class does not take it.
        status: ``"passed"``, ``"wrong"`` (it ran and something disagrees) or ``"did not
            run"`` (it produced no output in any configuration it takes: an exception, a
            protocol problem, or none it takes), for a grader.
        notes: what else the check saw, in sentences (``notes``).
        conventions: how the implementation's style differs from PyTorch's, as assumed.
    """

    name: str
    kind: str
    table: pd.DataFrame
    passed: bool
    verdict: str
    diagnosis: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)
    status: str = "passed"
    notes: list[str] = field(default_factory=list)
    conventions: list[str] = field(default_factory=list)

    @property
    def matches(self) -> dict[str, list[str]]:
        """Quantity -> the ids of the catalogued mistakes that reproduce its numbers."""
        matches: dict[str, list[str]] = {}
        for f in self.findings:                  # a quantity may fail for several causes
            matches.setdefault(f.quantity, []).extend(m.id for m in f.matches)
        return matches

    def text(self) -> str:
        """The verdict, the diagnosis and what the class does not take, for a person."""
        lines = [self.verdict]
        if self.conventions:
            lines.append("Its conventions, where they differ from PyTorch's: "
                         + "; ".join(self.conventions) + ".")
        lines += [*self.diagnosis, *self.notes]
        if self.unsupported:
            reasons = Counter(self.unsupported.values()).most_common()
            lines.append(f"Not supported by it: {len(self.unsupported)} of "
                         f"{self.table['configuration'].nunique()} configurations ("
                         + "; ".join(f"{n}: {why}" for why, n in reasons) + ").")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def to_json(self) -> str:
        """The report for a grader: verdict, diagnosis, matched mistake ids, and every row
        (infinite or NaN numbers as the strings ``"inf"`` and ``"nan"``)."""
        def plain(value: Any) -> Any:
            if isinstance(value, float | np.floating):
                return float(value) if math.isfinite(value) else str(float(value))
            if isinstance(value, np.bool_):
                return bool(value)
            return value

        rows = [{k: plain(v) for k, v in r.items()} for r in self.table.to_dict("records")]
        return json.dumps({
            "name": self.name, "kind": self.kind, "status": self.status,
            "passed": self.passed, "verdict": self.verdict, "conventions": self.conventions,
            "diagnosis": self.diagnosis, "notes": self.notes, "matches": self.matches,
            "not_supported": self.unsupported, "rows": rows,
        }, indent=2) + "\n"


def disagreeing(table: pd.DataFrame) -> pd.Series:
    """The rows that disagree with PyTorch or with finite differences (``None``: not
    compared, neither)."""
    return table["agrees"].eq(False) | table["fd_agrees"].eq(False)


def ran(run: Run) -> bool:
    """Whether the implementation produced anything in ``run``'s configuration (its first
    quantity: a layer's output, a loss, an optimizer's first step)."""
    return run.unsupported is None and bool(run.values)


def status(table: pd.DataFrame, runs: list[Run]) -> str:
    """What a grader needs to know first: ``"wrong"`` when some result it computed
    disagrees (with PyTorch, with finite differences, or with itself on a second run),
    ``"did not run"`` when none does but some could not be computed (an exception, a
    result of the wrong form) or it takes no configuration, else ``"passed"``."""
    run_of = dict(zip(dict.fromkeys(table["configuration"]), runs, strict=True))
    bad = table[disagreeing(table)]
    computed_wrong = any(q not in run_of[name].failures
                         for name, q in zip(bad["configuration"], bad["quantity"], strict=True))
    if computed_wrong or any(run.unstable for run in runs):
        return "wrong"
    if not bad.empty or not any(ran(run) for run in runs):
        return "did not run"
    return "passed"


def verdict(name: str, kind: str, table: pd.DataFrame, checked: int, total: int,
            runs: list[Run]) -> str:
    """One line: whether the implementation agrees with PyTorch (and finite differences),
    and if not, which quantities disagree in how many of the configurations it takes, or
    that it did not run."""
    who = f"{name} ({kind})"
    if checked == 0:
        return (f"{who} DID NOT RUN: it takes none of the {total} configurations (see "
                f"below why).")
    if status(table, runs) == "did not run":
        errors = Counter(next(iter(run.failures.values())) for run in runs
                         if run.unsupported is None and run.failures)
        failing = sum(errors.values())
        error = errors.most_common(1)[0][0]
        others = len(errors) - 1
        return (f"{who} DID NOT RUN in {failing} of the {checked} configurations it takes: "
                f"{error}" + (f" (and {others} other error{'s' * (others > 1)})"
                              if others else "") + ".")
    unstable = sum(bool(run.unstable) for run in runs)
    if unstable and not disagreeing(table).any():
        return (f"{who} is UNRELIABLE: its results differ between two identical runs in "
                f"{unstable} of {checked} configurations.")
    if not disagreeing(table).any():
        compared = int(table["agrees"].eq(True).sum())
        where = ("in the one configuration it takes" if checked == 1 else
                 f"in all {checked} configurations it takes")
        fd = (", and its gradients with central finite differences of its own forward pass"
              if table["fd_agrees"].notna().any() else "")
        return (f"{who} agrees with PyTorch {where} "
                f"({compared} quantities in float64, within {tolerance(np.float64):g} x "
                f"max(1, |value|)){fd}.")

    def counts(rows: pd.DataFrame) -> str:
        per_quantity = rows.groupby("quantity", sort=False)["configuration"].nunique()
        return "; ".join(f"{q} in {n}" for q, n in per_quantity.items()) + (
            f" of {checked} configurations")

    torch_wrong = table[table["agrees"].eq(False)]
    fd_wrong = table[table["agrees"].eq(True) & table["fd_agrees"].eq(False)]
    fd_text = ("finite differences of its own forward pass: " + counts(fd_wrong)
               if not fd_wrong.empty else "")
    if torch_wrong.empty:
        return f"{who} agrees with PyTorch but DISAGREES with {fd_text}."
    text = f"{who} DISAGREES with PyTorch: {counts(torch_wrong)}."
    return text + (f" Its gradients disagree with {fd_text}." if fd_text else "")


def notes(configs: list[Configuration], runs: list[Run]) -> list[str]:
    """What the check saw besides the numbers, a sentence each: a backward that gives no
    input gradient, calls that change the arrays they are given (a warning: the results
    are right, but in a network another layer's array is corrupted), results that differ
    between two identical runs (a failure)."""
    def where(indices: list[int]) -> str:
        names = [configs[i].name for i in indices]
        taken = sum(run.unsupported is None for run in runs)
        return (f"in all {taken} configurations it takes" if len(indices) == taken else
                f"in {len(indices)} of {taken} configurations ("
                + ", ".join(names[:4]) + (", ..." if len(names) > 4 else "") + ")")

    lines = []
    no_grad = [i for i, run in enumerate(runs) if run.no_input_grad]
    if no_grad:
        lines.append(f"Note: backward returns None {where(no_grad)}: no input gradient, as a "
                     f"network's first layer may give; the input gradient is not checked "
                     f"there, everything else is (a layer anywhere else must return it).")
    warned: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        for warning in run.warnings:
            warned.setdefault(warning, []).append(i)
    lines += [f"Warning: {warning}, {where(indices)}." for warning, indices in warned.items()]
    unstable = [i for i, run in enumerate(runs) if run.unstable]
    if unstable:
        quantities = sorted({q for i in unstable for q in runs[i].unstable})
        lines.append(f"FAILURE: two identical runs gave different {', '.join(quantities)} "
                     f"{where(unstable)}: the layer reads memory it does not own (a view past "
                     f"an array's end) or state left from an earlier call, so its results, "
                     f"and this check's verdict, change from run to run.")
    return lines


def fd_only_lines(table: pd.DataFrame, kind: str) -> list[str]:
    """A sentence for each gradient that agrees with PyTorch but not with finite differences
    of the implementation's own forward pass: its forward differs from what it
    differentiates."""
    odd = table[table["agrees"].eq(True) & table["fd_agrees"].eq(False)]
    return [f"{q}: agrees with PyTorch but not with finite differences of the "
            f"implementation's own forward pass (in {n} configuration{'s' * (n > 1)}): the "
            f"backward pass differentiates PyTorch's forward, not its own."
            for q, n in odd.groupby("quantity", sort=False)["configuration"].nunique().items()]
