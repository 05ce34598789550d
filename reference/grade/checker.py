"""The checker's API the grader builds on, in one place: ``discover`` and ``run_battery``
(which run a submission's code: the child's side) and ``judge`` (the parent's side).

They come from ``reference.check``; until it has them, this module gives the same three
from the checker's older pieces (``prepare``, ``run_implementation`` and the table,
verdict and diagnosis of ``check_layer``), for classes with a ``kind`` attribute.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference.check.run import Prepared, Run, prepare, run_implementation

__all__ = ["Implementation", "Prepared", "Run", "discover", "judge", "prepare", "run_battery"]

try:                                       # the checker's own, once it has them
    from reference.check import Implementation, discover, judge, run_battery  # type: ignore
except ImportError:
    import pandas as pd

    from reference.check.diagnosis import diagnose
    from reference.check.report import COLUMNS, LayerReport, disagreeing, fd_only_lines, row
    from reference.check.report import verdict as verdict_line
    from reference.kinds import CHECKED_KINDS

    _modules = itertools.count()

    @dataclass
    class Implementation:                 # type: ignore[no-redef]
        """An implementation found in a file: its name, kind, style, how to build it."""

        name: str
        kind: str
        style: str
        build: Callable[..., Any]
        conventions: tuple[str, ...] = ()

    def discover(path: Path) -> list[Implementation]:   # type: ignore[misc]
        """Import ``path`` (running its code) and return its classes with a ``kind``."""
        name = f"submission_{next(_modules)}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return [Implementation(k, v.kind, "class", v) for k, v in vars(module).items()
                if isinstance(v, type) and v.__module__ == name
                and getattr(v, "kind", None) in CHECKED_KINDS]

    def run_battery(build: Callable[..., Any], kind: str,   # type: ignore[misc]
                    prepared: Prepared) -> list[Run]:
        """``build`` through every configuration of ``prepared``."""
        return [run_implementation(build, kind, c, d, list(r)) for c, d, r in
                zip(prepared.configs, prepared.datas, prepared.references, strict=True)]

    def judge(name: str, kind: str, prepared: Prepared,   # type: ignore[misc]
              runs: list[Run], conventions: tuple[str, ...] = ()) -> LayerReport:
        """The report of ``runs`` against ``prepared``'s references, as ``check_layer``."""
        configs, references = prepared.configs, prepared.references
        rows, statuses = [], {}
        for i, (config, run, reference) in enumerate(zip(configs, runs, references,
                                                         strict=True)):
            for q, value in reference.items():
                rows.append(row(config, q, run, value))
                statuses[i, q] = rows[-1]["status"]
        table = pd.DataFrame(rows, columns=COLUMNS)
        checked = sum(run.unsupported is None for run in runs)
        passed = checked > 0 and not disagreeing(table).any()
        findings = [] if passed else diagnose(kind, configs, [d.x for d in prepared.datas],
                                              runs, references, statuses,
                                              prepared.variant_run)
        lines = [line for f in findings for line in f.lines(kind)] + fd_only_lines(table, kind)
        return LayerReport(name, kind, table, passed,
                           verdict_line(name, kind, table, checked, len(configs)), lines,
                           findings, {c.name: r.unsupported for c, r in
                                      zip(configs, runs, strict=True)
                                      if r.unsupported is not None})
