"""The grading benchmark: a generated class (``sample.write_class``: every kind, half the
implementations with a catalogued mistake) graded as ``scratchnet grade`` grades it, with
the wall time printed. Not a test (no timing is asserted anywhere)::

    python -m reference.grade.bench [--students 200] [--jobs N] [--out DIR]

Target (issue 23): 200 submissions of 5 implementations in at most 10 minutes on the
project's 2-core machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from reference.grade import GradingConfig, grade
from reference.grade.config import KindConfig
from reference.grade.sample import CLASS_NAMES, write_class


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reference.grade.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the outputs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "submissions"
        out = args.out or Path(tmp) / "results"
        write_class(subs, args.students)
        config = GradingConfig(kinds={kind: KindConfig() for kind in CLASS_NAMES})
        start = time.perf_counter()
        result = grade(subs, out, config, args.jobs, progress=True)
        seconds = time.perf_counter() - start
    implementations = sum(k.verdict != "not found" for s in result.submissions for k in s.kinds)
    print(f"graded {len(result.submissions)} submissions ({implementations} implementations, "
          f"{len(config.kinds)} kinds) in {seconds:.1f} s with {args.jobs} jobs "
          f"on {platform.processor() or platform.machine()} ({os.cpu_count()} cores); "
          f"{seconds / len(result.submissions):.2f} s per submission")
    print(f"sandbox: {result.sandbox}")


if __name__ == "__main__":
    main()
