"""``scratchnet grade SUBMISSIONS_DIR --out RESULTS_DIR``: grade a class
(``reference.grade``); ``DESCRIPTION`` says what it does."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from reference.grade import ConfigError, GradingConfig, grade, grade_gradescope, load_config
from reports.usage import UsageError, positive_int, progress_argument

GRADESCOPE_SUBMISSION = Path("/autograder/submission")
GRADESCOPE_RESULTS = Path("/autograder/results/results.json")

DESCRIPTION = """\
Grade every submission of SUBMISSIONS_DIR (each sub-folder or .py file is one): find the
implementations in its files, check each against PyTorch in its kind's battery, name the
catalogued mistakes, and write RESULTS_DIR/grades.csv (one row per submission and kind),
RESULTS_DIR/index.html (the class's table, each cell opening the diagnosis),
RESULTS_DIR/mistakes.png (the named mistakes across the class) and
RESULTS_DIR/submissions/NAME/results.json (Gradescope's format). Each submission's code
runs in its own child process with time, memory and process limits, and on Linux in a
sandbox that shows it only its own files and no network; PyTorch's numbers and the
verdicts never leave the grader. --gradescope grades /autograder/submission into
/autograder/results/results.json instead. Exit status 0 when graded, 2 for a usage
error (one line on stderr)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``grade`` subcommand's arguments."""
    parser.add_argument("submissions", nargs="?", type=Path, metavar="SUBMISSIONS_DIR",
                        help="one sub-folder or .py file per submission")
    parser.add_argument("--out", type=Path, metavar="RESULTS_DIR",
                        help="where the CSV, the page, the histogram and the results go")
    parser.add_argument("--config", type=Path, metavar="grading.toml",
                        help="the kinds expected, their points, hidden configurations, seed "
                             "and limits (default: every kind, 1 point each)")
    parser.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                        help="submissions graded at a time (default: the cores)")
    parser.add_argument("--gradescope", action="store_true",
                        help="Gradescope's autograder: grade --submission into --results")
    parser.add_argument("--submission", type=Path, default=GRADESCOPE_SUBMISSION,
                        help=f"with --gradescope (default {GRADESCOPE_SUBMISSION})")
    parser.add_argument("--results", type=Path, default=GRADESCOPE_RESULTS,
                        help=f"with --gradescope (default {GRADESCOPE_RESULTS})")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run the submissions without the Linux namespaces (limits and "
                             "child processes only)")
    progress_argument(parser)


def _config(args: argparse.Namespace) -> GradingConfig:
    if args.config is None:
        return GradingConfig()
    if not args.config.is_file():
        raise UsageError(f"--config {args.config}: no such file")
    try:
        return load_config(args.config)
    except (ConfigError, OSError) as err:
        raise UsageError(f"--config {err}") from None


def _writable_folder(flag: str, folder: Path) -> None:
    """Make ``folder`` and write a file in it, or UsageError naming ``flag``: before any
    work starts, as every output path of the command is checked."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {folder}: is a file, expected a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UsageError(f"{flag} {folder}: cannot write there "
                         f"({err.strerror or type(err).__name__})") from None


def run(args: argparse.Namespace) -> None:
    """``scratchnet grade``."""
    if args.gradescope:
        if args.submissions is not None or args.out is not None:
            raise UsageError("--gradescope: grades --submission into --results; leave out "
                             "SUBMISSIONS_DIR and --out")
        if not args.submission.is_dir():
            raise UsageError(f"--submission {args.submission}: no such folder")
        if args.results.is_dir():
            raise UsageError(f"--results {args.results}: is a folder, expected a file")
        config = _config(args)
        _writable_folder("--results", args.results.parent)
        submission = grade_gradescope(args.submission, args.results, config,
                                      not args.no_sandbox)
        print(f"{submission.score:g} of {submission.max_score:g} points; "
              f"wrote {args.results}")
        return
    if args.submissions is None or args.out is None:
        raise UsageError("expected SUBMISSIONS_DIR and --out RESULTS_DIR (or --gradescope)")
    if not args.submissions.is_dir():
        raise UsageError(f"SUBMISSIONS_DIR {args.submissions}: no such folder")
    out = args.out.resolve()
    if out.is_relative_to(args.submissions.resolve()):
        raise UsageError(f"--out {args.out}: inside SUBMISSIONS_DIR, where it would be "
                         "graded as a submission; choose a folder outside it")
    from reference.grade.grade import submissions_in

    if not submissions_in(args.submissions):
        raise UsageError(f"SUBMISSIONS_DIR {args.submissions}: holds no submission (a "
                         "sub-folder or a .py file)")
    config = _config(args)
    _writable_folder("--out", args.out)
    result = grade(args.submissions, args.out, config, args.jobs, not args.no_progress,
                   not args.no_sandbox)
    counts: dict[str, int] = {}
    for s in result.submissions:
        for k in s.kinds:
            counts[k.verdict] = counts.get(k.verdict, 0) + 1
    print(f"graded {len(result.submissions)} submissions in {result.seconds:.1f} s ("
          + ", ".join(f"{n} {v}" for v, n in counts.items()) + f"); wrote {args.out}")
    print(f"sandbox: {result.sandbox}")
