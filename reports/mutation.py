"""Mutation testing of the numerical core: run mutmut, then write ``reports/mutation/README.md``.

``make mutation`` runs ``python -m reports.mutation``: a fresh mutmut run over the files
``[tool.mutmut]`` in ``pyproject.toml`` names (``mutants/`` is deleted first, since mutmut's
results are incremental and a survivor stays a survivor until it is rerun), and then the
summary. ``python -m reports.mutation --summary`` only rewrites the summary from the results
already in ``mutants/``.

Every mutant that survives must be explained: either a test kills it, or
``reports/mutation/equivalent.toml`` says, in one line, why no test can (the mutated program
computes the same thing). That file is keyed by mutmut's mutant name and records the mutated
line too, so a reason whose mutant was renumbered by a later edit is reported as stale rather
than silently attached to another mutant. The summary lists every survivor with its reason or
as UNEXPLAINED, and the command exits with status 1 while any is unexplained.

The summary is only written from a complete run: a run limited to some mutants leaves the
others unchecked, and such a partial result never overwrites the committed one.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from reports.machine import git_info
from scratchnet.atomic import write_atomically

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "reports" / "mutation"
EQUIVALENT = OUT_DIR / "equivalent.toml"
COMMAND = "make mutation"
#: mutmut's statuses (``mutmut results``) that count as the mutant being detected.
CAUGHT = ("killed", "timeout", "segfault")
#: Statuses of a mutant no test detected: each needs a test or a reason.
SURVIVED = ("survived", "no tests", "suspicious")
TARGET_SCORE = 0.95
#: One BLAS / OpenMP thread per mutmut worker: two workers share the two cores.
ONE_THREAD = {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def mutated_files() -> str:
    """The files ``[tool.mutmut] only_mutate`` names, as the page lists them (a glob's folder
    as the folder), e.g. ```scratchnet/kernels.py`, `scratchnet/layers/` and ...``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]
    names = [f"`{p.removesuffix('*')}`" for p in config["only_mutate"]]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


@dataclass(frozen=True)
class Mutant:
    """One mutant: mutmut's name, its status and (for survivors) the change it makes."""

    name: str
    status: str
    change: str = ""

    @property
    def file(self) -> str:
        """The source file: ``scratchnet.layers.conv.xǁConv2Dǁforward__mutmut_3`` ->
        ``scratchnet/layers/conv.py``."""
        module = re.split(r"\.x[_ǁ]", self.name, maxsplit=1)[0]
        return module.replace(".", "/") + ".py"

    @property
    def function(self) -> str:
        """The function or method mutated, e.g. ``Conv2D.forward`` or ``pad_spatial``."""
        mangled = re.split(r"\.(?=x[_ǁ])", self.name, maxsplit=1)[1].partition("__mutmut_")[0]
        return mangled[2:] if mangled.startswith("x_") else mangled[2:].replace("ǁ", ".")


def parse_results(text: str) -> list[Mutant]:
    """The mutants listed by ``mutmut results --all true`` (lines ``name: status``)."""
    mutants = []
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            mutants.append(Mutant(name, status))
    return mutants


def parse_change(diff: str) -> str:
    """The lines a mutant changes, from ``mutmut show NAME``: ``- old`` and ``+ new`` lines,
    stripped and joined by `` / ``."""
    changed = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")) or not line.startswith(("-", "+")):
            continue
        changed.append(f"{line[0]} {line[1:].strip()}")
    return " / ".join(changed)


def load_equivalent(text: str) -> dict[str, dict[str, str]]:
    """``equivalent.toml``: mutant name -> ``{"change": ..., "reason": ...}``, both required."""
    table = tomllib.loads(text)
    for name, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != {"change", "reason"}:
            raise ValueError(f"{EQUIVALENT.name}: [{name!r}] needs exactly 'change' and 'reason'")
    return table


@dataclass(frozen=True)
class Verdict:
    """A survivor and what the summary says of it: the reason, or why there is none."""

    mutant: Mutant
    reason: str | None  # None: unexplained
    note: str = ""      # e.g. that a recorded reason is stale


def judge(mutants: list[Mutant], equivalent: dict[str, dict[str, str]]
          ) -> tuple[list[Verdict], list[str]]:
    """Each survivor with its recorded reason (when the recorded change still matches), and
    the names of recorded reasons that no longer belong to a survivor."""
    verdicts = []
    for m in mutants:
        if m.status not in SURVIVED:
            continue
        entry = equivalent.get(m.name)
        if entry is None:
            verdicts.append(Verdict(m, None))
        elif entry["change"] != m.change:
            verdicts.append(Verdict(m, None, f"stale reason, recorded for: {entry['change']}"))
        else:
            verdicts.append(Verdict(m, entry["reason"]))
    survivors = {m.name for m in mutants if m.status in SURVIVED}
    unused = sorted(set(equivalent) - survivors)
    return verdicts, unused


def score_table(mutants: list[Mutant], verdicts: list[Verdict]) -> list[list[str]]:
    """Rows ``file, mutants, killed, timeout, survived, equivalent, score`` and a total."""
    explained = {v.mutant.name for v in verdicts if v.reason is not None}
    files = sorted({m.file for m in mutants})
    rows = []
    for file in [*files, None]:
        group = [m for m in mutants if file is None or m.file == file]
        counts = Counter(m.status for m in group)
        caught = sum(counts[s] for s in CAUGHT)
        survived = sum(counts[s] for s in SURVIVED)
        equiv = sum(m.name in explained for m in group)
        rows.append([
            "**all**" if file is None else f"`{file}`", str(len(group)), str(caught),
            str(counts["timeout"]), str(survived), str(equiv),
            f"{caught / len(group):.1%}" if group else "-",
        ])
    return rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render(mutants: list[Mutant], verdicts: list[Verdict], unused: list[str], *, date: str,
           minutes: float | None, code: str, mutmut_version: str, note: str = "") -> str:
    """The summary page (Markdown)."""
    caught = sum(m.status in CAUGHT for m in mutants)
    took = f" in {minutes:.0f} minutes" if minutes is not None else ""
    unexplained = [v for v in verdicts if v.reason is None]
    parts = [
        "# Mutation testing of the numerical core",
        "",
        f"Produced by `{COMMAND}` (`python -m reports.mutation`) on {date}{took}, with mutmut "
        f"{mutmut_version}. Code: {code}." + (f" {note}" if note else ""),
        "",
        f"**Score: {caught} of {len(mutants)} mutants killed, {caught / len(mutants):.1%}** "
        f"(target {TARGET_SCORE:.0%}); {len(verdicts) - len(unexplained)} of the "
        f"{len(verdicts)} survivors are equivalent mutants (below, each with its reason), "
        f"{len(unexplained)} unexplained.",
        "",
        f"mutmut changes one thing at a time in {mutated_files()} (an operator, a number, a "
        "string, an argument dropped or set to None, a condition forced) and runs the tests "
        "that call the "
        "changed function, fastest first; a mutant is *killed* when one of them fails, *timeout* "
        "when they run 30 times longer than usual (counted as killed). The judges are the tests "
        "`[tool.mutmut]` in `pyproject.toml` selects (all but `tests/data`, which never calls "
        "these files, and `tests/reports`, which reaches them only through whole training and "
        "report runs), under the Hypothesis profile `mutation` (fixed examples, no database: "
        "`tests/conftest.py`). A survivor no test can kill is "
        "*equivalent*: the mutated code computes the same numbers; the reasons live in "
        "[`equivalent.toml`](equivalent.toml), which this page is generated from with mutmut's "
        "results, so it can be remade with the command above.",
        "",
        "## Score by file",
        "",
        _md_table(["file", "mutants", "killed", "of which timeout", "survived", "equivalent",
                   "score"], score_table(mutants, verdicts)),
        "",
        "## Survivors",
        "",
    ]
    if verdicts:
        rows = [[f"`{v.mutant.name.rpartition('.')[2]}`", v.mutant.file.removeprefix("scratchnet/"),
                 v.mutant.function, f"`{v.mutant.change}`", v.mutant.status,
                 v.reason if v.reason is not None else f"**UNEXPLAINED** {v.note}".strip()]
                for v in sorted(verdicts, key=lambda v: (v.mutant.file, v.mutant.name))]
        parts.append(_md_table(["mutant", "file", "function", "change", "status", "why"], rows))
    else:
        parts.append("None.")
    if unused:
        parts += ["", "Reasons in `equivalent.toml` for mutants that no longer survive: "
                  + ", ".join(f"`{name}`" for name in unused) + "."]
    parts += ["", "`mutmut show NAME` (after a run) shows a mutant's diff, "
              "`mutmut run NAME` reruns it.", ""]
    return "\n".join(parts)


def _mutmut(*args: str, capture: bool = True) -> str:
    """Run the ``mutmut`` beside this Python (the project's virtual environment)."""
    exe = Path(sys.executable).with_name("mutmut")
    done = subprocess.run([str(exe), *args], cwd=ROOT, check=True, capture_output=capture,
                          text=True, env=os.environ | ONE_THREAD)
    return done.stdout or ""


def collect() -> list[Mutant]:
    """Every mutant in ``mutants/`` with its status, and the change for each survivor."""
    mutants = parse_results(_mutmut("results", "--all", "true"))
    return [Mutant(m.name, m.status, parse_change(_mutmut("show", m.name)))
            if m.status in SURVIVED else m for m in mutants]


def write_summary(minutes: float | None = None, note: str = "") -> int:
    """Write ``README.md`` from mutmut's results; 1 if the run is incomplete or a survivor is
    unexplained, else 0."""
    if not (ROOT / "mutants").is_dir():
        print("mutation: no results in mutants/: run `make mutation` first", file=sys.stderr)
        return 2
    mutants = collect()
    unchecked = [m.name for m in mutants if m.status not in CAUGHT + SURVIVED]
    if not mutants or unchecked:
        print(f"mutation: {len(unchecked)} mutants not checked (e.g. {unchecked[:3]}): an "
              "incomplete run; the summary is left as it was", file=sys.stderr)
        return 1
    equivalent = load_equivalent(EQUIVALENT.read_text("utf-8")) if EQUIVALENT.exists() else {}
    verdicts, unused = judge(mutants, equivalent)
    page = render(mutants, verdicts, unused,
                  date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  minutes=minutes, code=git_info(), mutmut_version=version("mutmut"), note=note)
    write_atomically(OUT_DIR / "README.md", lambda f: f.write(page.encode("utf-8")))
    caught = sum(m.status in CAUGHT for m in mutants)
    unexplained = [v.mutant.name for v in verdicts if v.reason is None]
    print(f"mutation: {caught}/{len(mutants)} killed ({caught / len(mutants):.1%}); "
          f"{len(unexplained)} unexplained survivors; wrote {OUT_DIR / 'README.md'}")
    for name in unexplained:
        print(f"  unexplained: {name}", file=sys.stderr)
    return 1 if unexplained else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.mutation", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--summary", action="store_true",
                        help="only write the summary from the results in mutants/")
    parser.add_argument("--note", default="",
                        help="a sentence for the page's header, e.g. how the results were made")
    parser.add_argument("--max-children", type=int, default=2,
                        help="mutants tested at once (default 2, one per core here)")
    args = parser.parse_args(argv)
    if args.summary:
        return write_summary(note=args.note)
    if args.max_children < 1:
        parser.error(f"--max-children must be >= 1, got {args.max_children}")
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    start = time.monotonic()
    try:
        _mutmut("run", "--max-children", str(args.max_children), capture=False)
    except subprocess.CalledProcessError as e:
        print(f"mutation: mutmut run failed (exit status {e.returncode}); see its output above",
              file=sys.stderr)
        return 1
    return write_summary((time.monotonic() - start) / 60, args.note)


if __name__ == "__main__":
    sys.exit(main())
