"""The grader's side: what a submission's frames say, judged against PyTorch's numbers
that never left the grader, and scored.

A kind's grade comes from the best implementation of it the submission holds (most
points): ``points x configurations passed / configurations in the battery``, where a
configuration passes when every quantity in it agrees with PyTorch and with finite
differences (one it does not take passes nothing). The teacher's text is the judge's
report on the whole battery; the student's is its report on the visible configurations
only, followed by how many hidden ones did not pass (their inputs are not named).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reference.grade import wire
from reference.grade.checker import Prepared, Run, judge
from reference.grade.config import GradingConfig
from reference.grade.isolation import Outcome

VERDICTS = ("passed", "wrong", "did not run", "not found")


@dataclass
class KindGrade:
    """One submission's grade for one expected kind (a row of the class's CSV)."""

    kind: str
    verdict: str
    max_points: float
    points: float = 0.0
    implementation: str = ""
    mistakes: list[str] = field(default_factory=list)
    passed: int = 0
    checked: int = 0
    total: int = 0
    hidden_failed: int = 0
    hidden_total: int = 0
    seconds: float = 0.0
    teacher: str = ""
    student: str = ""


@dataclass
class SubmissionGrade:
    """A submission's grades, one per expected kind, and what concerns all of them."""

    name: str
    kinds: list[KindGrade]
    seconds: float
    notes: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def score(self) -> float:
        return sum(k.points for k in self.kinds)

    @property
    def max_score(self) -> float:
        return sum(k.max_points for k in self.kinds)


@dataclass
class Battery:
    """A kind's prepared battery for judging: all of it (the teacher's) and its visible
    part (the student's), with the hidden configurations' indices."""

    full: Prepared
    visible: Prepared
    hidden: list[int]

    @classmethod
    def of(cls, prepared: Prepared, hidden_names: tuple[str, ...]) -> Battery:
        hidden = [i for i, c in enumerate(prepared.configs) if c.name in hidden_names]
        return cls(prepared, prepared.without(hidden_names) if hidden else prepared, hidden)


def grade_outcome(name: str, outcome: Outcome, config: GradingConfig,
                  batteries: dict[str, Battery]) -> SubmissionGrade:
    """Judge what ``outcome`` holds for every kind ``config`` expects."""
    notes, starts, found, done = [], [], {}, False
    for header, arrays in outcome.frames:
        kind = header.get("type")
        if kind == "import error":
            notes.append(f"Importing {_text(header.get('file'))} failed: "
                         f"{_text(header.get('error'))}.")
        elif kind == "crash":
            notes.append(f"The grader's code in the submission's process failed: "
                         f"{_text(header.get('error'))}.")
        elif kind == "problem" and header.get("kind") in config.kinds:
            notes.append(f"{_text(header.get('name'))} ({_text(header.get('kind'))}) cannot "
                         f"be checked: {_text(header.get('problem'))}.")
            starts.append(header)
        elif kind == "done":
            done = True
        elif kind == "start":
            starts.append(header)
        elif kind == "runs" and header.get("kind") in config.kinds:
            found.setdefault(header["kind"], []).append((header, arrays))
    if outcome.problem:
        where = f" while checking {_text(starts[-1].get('name'))}" if starts and \
            len(starts) > sum(len(v) for v in found.values()) else ""
        notes.append(f"The submission did not finish{where}: {outcome.problem}.")
    kinds = []
    for kind, spec in config.kinds.items():
        grades = [_judge(header, arrays, batteries[kind], spec.points)
                  for header, arrays in found.get(kind, [])]
        if grades:
            best = max(grades, key=lambda g: (g.points, g.passed))
            others = [g.implementation for g in grades if g is not best]
            if others:
                extra = f"\n(Also found, scoring less: {', '.join(others)}.)"
                best.teacher += extra
                best.student += extra
            kinds.append(best)
        else:
            started = [s for s in starts if s.get("kind") == kind]
            if started or not done or notes:
                why = " ".join(notes) or "it did not run"
                kinds.append(KindGrade(kind, "did not run", spec.points, teacher=why,
                                       student=why,
                                       implementation=_text(started[0].get("name"))
                                       if started else ""))
            else:
                why = (f"No {kind} implementation was found in the submission (a class "
                       f"with kind = \"{kind}\", or the functions of its style).")
                kinds.append(KindGrade(kind, "not found", spec.points, teacher=why,
                                       student=why))
    return SubmissionGrade(name, kinds, outcome.seconds, notes, outcome.stdout,
                           outcome.stderr)


def _judge(header: dict[str, Any], arrays: dict[str, np.ndarray], battery: Battery,
           points: float) -> KindGrade:
    """One implementation's ``KindGrade`` from its ``"runs"`` frame."""
    kind, name = battery.full.kind, _text(header.get("name"))
    grade = KindGrade(kind, "did not run", points, implementation=name,
                      total=len(battery.full.configs))
    try:
        raw = header.get("runs")
        if not isinstance(raw, list) or len(raw) != grade.total:
            raise wire.WireError(f"{grade.total} runs expected")
        runs = [wire.decode(Run, r, arrays) for r in raw]
        conventions = tuple(_text(c) for c in header.get("conventions") or [])
        report = judge(name, kind, battery.full, runs, conventions)
    except Exception as err:  # data from the child
        grade.teacher = grade.student = (f"{name} ({kind}) did not run: its process sent "
                                         f"results the grader cannot read ({err}).")
        return grade
    seconds = header.get("seconds")
    grade.seconds = float(seconds) if isinstance(seconds, int | float) else 0.0
    table = report.table
    ok = table.groupby("configuration", sort=False)["status"].agg(lambda s: bool((s == "ok")
                                                                               .all()))
    names = [c.name for c in battery.full.configs]
    passed = [bool(ok.get(n, False)) for n in names]
    grade.passed = sum(passed)
    grade.checked = sum(r.unsupported is None for r in runs)
    grade.points = points * grade.passed / grade.total if grade.total else 0.0
    grade.mistakes = sorted({m for ids in report.matches.values() for m in ids})
    status = getattr(report, "status", None)
    grade.verdict = status if status in VERDICTS else (
        "passed" if report.passed else "did not run" if grade.checked == 0 else "wrong")
    grade.teacher = report.text()
    grade.hidden_total = len(battery.hidden)
    grade.hidden_failed = sum(not passed[i] for i in battery.hidden)
    if battery.hidden:
        keep = [i for i in range(grade.total) if i not in battery.hidden]
        visible = judge(name, kind, battery.visible, [runs[i] for i in keep], conventions)
        grade.student = visible.text() + (
            f"\nHidden checks: {grade.hidden_failed} of {grade.hidden_total} hidden "
            f"configurations did not pass.")
    else:
        grade.student = grade.teacher
    return grade


def _text(value: Any) -> str:
    """A value from the child as a short string."""
    return str(value)[:200] if value is not None else "?"
