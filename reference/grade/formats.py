"""The class's grades as files for other programs: the CSV (pandas) and Gradescope's
``results.json``.

``results.json`` follows Gradescope's autograder specification ("Autograder
Specifications", gradescope-autograders.readthedocs.io, *Output format*): a top-level
``score``, ``execution_time`` (seconds), ``output``, ``stdout_visibility`` and ``tests``,
each test with ``name``, ``score``, ``max_score``, ``status``, ``output`` and
``visibility``. One test per expected kind; its output is the student's text (hidden
configurations counted, not shown).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from reference.grade.verdicts import SubmissionGrade
from scratchnet.atomic import write_atomically

if TYPE_CHECKING:
    from reference.grade.grade import ClassGrade

CSV_COLUMNS = ["submission", "kind", "implementation", "verdict", "mistakes",
               "configurations_passed", "configurations_checked", "configurations_total",
               "hidden_failed", "points", "max_points", "seconds", "reason"]

#: Gradescope's values for ``visibility``.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


def table(result: ClassGrade) -> pd.DataFrame:
    """One row per submission and expected kind (``CSV_COLUMNS``)."""
    rows = []
    for submission in result.submissions:
        for k in submission.kinds:
            reason = "" if k.verdict in ("passed", "wrong") else k.teacher.splitlines()[0]
            rows.append({"submission": submission.name, "kind": k.kind,
                         "implementation": k.implementation, "verdict": k.verdict,
                         "mistakes": " ".join(k.mistakes),
                         "configurations_passed": k.passed,
                         "configurations_checked": k.checked,
                         "configurations_total": k.total, "hidden_failed": k.hidden_failed,
                         "points": round(k.points, 4), "max_points": k.max_points,
                         "seconds": round(k.seconds, 3), "reason": reason})
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


def write_csv(result: ClassGrade, path: Path) -> None:
    """The class's table as CSV."""
    text = table(result).to_csv(index=False)
    write_atomically(path, lambda f: f.write(text.encode()))


def results_json(submission: SubmissionGrade, sandbox: str) -> dict:
    """The submission's grade in Gradescope's format (see the module)."""
    tests = [{"name": f"{k.kind}: {k.implementation}" if k.implementation else k.kind,
              "score": round(k.points, 4), "max_score": k.max_points,
              "status": "passed" if k.verdict == "passed" else "failed",
              "output": f"{k.verdict.upper()}: {k.student}", "visibility": "visible"}
             for k in submission.kinds]
    output = "\n".join([f"Score: {submission.score:g} of {submission.max_score:g}.",
                        *submission.notes, f"Sandbox: {sandbox}."])
    return {"score": round(submission.score, 4),
            "execution_time": math.ceil(submission.seconds), "output": output,
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def write_results_json(submission: SubmissionGrade, sandbox: str, path: Path) -> None:
    """``results_json`` into ``path`` (its folder made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results_json(submission, sandbox), indent=2) + "\n"
    write_atomically(path, lambda f: f.write(text.encode()))
