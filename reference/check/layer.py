"""``check_layer``: anyone's layer through a kind's battery, against PyTorch and finite
differences, diagnosed when it disagrees; ``assert_layer_correct`` for a course's tests.

The check is two steps, so that a grader can run the first where the user's code cannot
touch the second: ``run_battery`` runs the implementation (the user's code) in every
configuration and returns plain data; ``judge`` compares it with PyTorch, diagnoses it and
writes the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from reference.check.battery import RANDOM_CONFIGURATIONS
from reference.check.diagnosis import diagnose
from reference.check.report import (
    COLUMNS,
    LayerReport,
    fd_only_lines,
    notes,
    row,
    status,
    verdict,
)
from reference.check.run import Prepared, prepare, run_implementation
from reference.check.styles import Implementation
from reference.kinds import CHECKED_KINDS, KINDS
from reference.kinds.procedures import procedure_of
from reference.kinds.record import Run


def protocol_problem(cls: Any, kind: str) -> str | None:
    """What keeps ``cls`` from being checked as ``kind``, in one sentence, or None."""
    if kind not in CHECKED_KINDS:
        return f"unknown kind {kind!r}: expected one of {', '.join(CHECKED_KINDS)}"
    if not isinstance(cls, type):
        return f"{cls!r} is not a class"
    procedure = procedure_of(KINDS[kind])
    for method in procedure.methods:
        if not callable(getattr(cls, method, None)):
            return (f"{cls.__name__} has no {method} method: a {kind} needs "
                    f"{procedure.protocol}")
    return None


def run_battery(build: Callable[..., Any], kind: str, prepared: Prepared) -> list[Run]:
    """Run the implementation ``build`` builds (a class, or a style's builder) in every
    configuration of ``prepared``: this runs the user's code, and returns only data."""
    return [run_implementation(build, kind, config, data, list(reference))
            for config, data, reference in zip(prepared.configs, prepared.datas,
                                               prepared.references, strict=True)]


def judge(name: str, kind: str, prepared: Prepared, runs: list[Run],
          conventions: Sequence[str] = ()) -> LayerReport:
    """The report on ``runs`` (``run_battery``'s, of the implementation called ``name``):
    every quantity against PyTorch's, the verdict and the diagnosis. Runs only the
    checker's and the catalogue's code."""
    configs, references = prepared.configs, prepared.references
    rows, statuses = [], {}
    for i, (config, run, reference) in enumerate(zip(configs, runs, references, strict=True)):
        for q, value in reference.items():
            rows.append(row(config, q, run, value))
            statuses[i, q] = rows[-1]["status"]
    table = pd.DataFrame(rows, columns=COLUMNS)
    checked = sum(run.unsupported is None for run in runs)
    state = status(table, runs)
    findings = [] if state == "passed" else diagnose(
        kind, configs, [d.x for d in prepared.datas], runs, references, statuses,
        prepared.variant_run)
    lines = [line for f in findings for line in f.lines(kind)] + fd_only_lines(table, kind)
    return LayerReport(
        name, kind, table, state == "passed",
        verdict(name, kind, table, checked, len(configs), runs), lines, findings,
        {c.name: run.unsupported for c, run in zip(configs, runs, strict=True)
         if run.unsupported is not None},
        status=state, notes=notes(configs, runs), conventions=list(conventions))


def check_layer(cls: type, kind: str, random_configurations: int = RANDOM_CONFIGURATIONS,
                seed: int = 0) -> LayerReport:
    """Check ``cls`` as a layer (or loss) of ``kind`` against PyTorch; see the module.

    Args:
        cls: the class; it is built as scratchnet's class of the kind is
            (``LayerProtocol``; an optimizer ``(net, lr=..., ...)`` with ``step()``), and
            configurations needing keyword arguments it does not take are reported as
            not supported by it.
        kind: one of ``reference.kinds.CHECKED_KINDS`` (``"conv2d"``, ``"maxpool2d"``,
            ``"dense"``, ``"relu"``, ``"softmax-ce"``, ``"sgd"``, ``"adam"``,
            ``"rmsprop"``).
        random_configurations: random configurations after the named ones (0: the named
            ones only, a lighter battery).
        seed: seeds the random configurations and every array.

    Raises:
        ValueError: for an unknown kind; TypeError: when ``cls`` is not a class with
        ``forward`` and ``backward``.
    """
    problem = protocol_problem(cls, kind)
    if problem is not None and kind not in CHECKED_KINDS:
        raise ValueError(f"check_layer: {problem}")
    if problem is not None:
        raise TypeError(f"check_layer: {problem}")
    prepared = prepare(kind, random_configurations, seed)
    return judge(cls.__name__, kind, prepared, run_battery(cls, kind, prepared))


def check_implementation(impl: Implementation,
                         random_configurations: int = RANDOM_CONFIGURATIONS,
                         seed: int = 0) -> LayerReport:
    """``check_layer`` for an implementation ``styles.discover`` found (any style)."""
    prepared = prepare(impl.kind, random_configurations, seed)
    if impl.build is None:                               # half a pair, a missing class
        runs = [Run(unsupported=impl.problem) for _ in prepared.configs]
    else:
        runs = run_battery(impl.build, impl.kind, prepared)
    return judge(impl.name, impl.kind, prepared, runs, impl.conventions)


def assert_layer_correct(cls: type, kind: str, **options: Any) -> LayerReport:
    """``check_layer(cls, kind, **options)``, raising AssertionError with the verdict and
    the diagnosis as its message unless ``cls`` passes; the report when it does."""
    report = check_layer(cls, kind, **options)
    if not report.passed:
        raise AssertionError(report.text())
    return report
