"""Grading a class: prepare the batteries once, run every submission in its own isolated
worker, judge and score in the grader, write the class's outputs.

``grade(submissions, out, config)`` is ``scratchnet grade``; ``grade_gradescope`` its
``--gradescope`` form (one submission, one ``results.json``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm import tqdm

from reference.grade import child, formats, page
from reference.grade.checker import prepare
from reference.grade.config import GradingConfig
from reference.grade.isolation import Isolator, sandbox_probe
from reference.grade.verdicts import Battery, SubmissionGrade, grade_outcome


@dataclass
class ClassGrade:
    """The class's grades, in submission order, and how they were made."""

    submissions: list[SubmissionGrade]
    config: GradingConfig
    sandbox: str
    seconds: float


def submissions_in(folder: Path) -> list[Path]:
    """Each sub-folder and each ``.py`` file of ``folder`` is one submission (names
    starting with ``.`` or ``_`` are skipped), sorted by name."""
    return sorted(p for p in folder.iterdir()
                  if not p.name.startswith((".", "_"))
                  and (p.is_dir() or (p.is_file() and p.suffix == ".py")))


def sandbox_words(problem: str | None) -> str:
    """The sandbox used, in words for the outputs."""
    if problem is None:
        return ("Linux namespaces: each submission ran alone in its own mount, PID and "
                "network namespaces, seeing only its own files and the Python libraries, "
                "without network, as an unprivileged user")
    return (f"none (the submissions ran without a sandbox, in their own process groups with "
            f"limits only: {problem})")


def run_class(submissions: list[Path], config: GradingConfig, jobs: int, hide: list[Path],
              progress: bool = False, use_sandbox: bool = True) -> ClassGrade:
    """Grade ``submissions`` (see the module); nothing is written."""
    start = time.perf_counter()
    batteries = {kind: Battery.of(prepare(kind, config.random_configurations, config.seed)
                                  .without(spec.exclude), spec.hidden)
                 for kind, spec in config.kinds.items()}
    prepared = {kind: b.full for kind, b in batteries.items()}
    scratch = Path(tempfile.mkdtemp(prefix="scratchnet-grade-"))
    try:
        problem = sandbox_probe(scratch) if use_sandbox else "--no-sandbox was given"
        mode = "namespaces" if problem is None else "none"
        isolator = Isolator(partial(child.check_submission, prepared=prepared,
                                    declarations=config.declarations),
                            partial(child.blind, list(prepared.values())), config.limits,
                            jobs, [*hide, scratch], mode, scratch)
        names = {p: p.name for p in submissions}
        grades = {}
        with isolator, tqdm(total=len(submissions), unit="submission", file=sys.stderr,
                            disable=not progress, desc="grading") as bar:
            for outcome in isolator.run(submissions):
                grades[outcome.submission] = grade_outcome(names[outcome.submission], outcome,
                                                           config, batteries)
                bar.update()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ClassGrade([grades[p] for p in submissions], config, sandbox_words(problem),
                      time.perf_counter() - start)


def grade(submissions_dir: Path, out: Path, config: GradingConfig, jobs: int | None = None,
          progress: bool = False, use_sandbox: bool = True) -> ClassGrade:
    """Grade every submission of ``submissions_dir`` and write into ``out``: ``grades.csv``,
    ``index.html``, ``mistakes.png`` and ``submissions/<name>/results.json``."""
    out.mkdir(parents=True, exist_ok=True)
    result = run_class(submissions_in(submissions_dir), config, jobs or os.cpu_count() or 1,
                       [submissions_dir, out], progress, use_sandbox)
    formats.write_csv(result, out / "grades.csv")
    for submission in result.submissions:
        formats.write_results_json(submission, result.sandbox,
                                   out / "submissions" / submission.name / "results.json")
    page.write_histogram(result, out / "mistakes.png")
    page.write_page(result, out / "index.html", "mistakes.png")
    return result


def grade_gradescope(submission: Path, results: Path, config: GradingConfig,
                     use_sandbox: bool = True) -> SubmissionGrade:
    """Gradescope's autograder: grade the one ``submission`` folder and write
    ``results`` (``/autograder/results/results.json``)."""
    result = run_class([submission], config, 1, [results.parent], False, use_sandbox)
    formats.write_results_json(result.submissions[0], result.sandbox, results)
    return result.submissions[0]
