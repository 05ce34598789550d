"""Session-wide test set-up: print the worst disagreement with PyTorch seen in the run, and
the Hypothesis profile mutation testing runs under."""

from __future__ import annotations

from hypothesis import settings

from tests.torch_check import WORST

# `make mutation` (pyproject's [tool.mutmut]) passes --hypothesis-profile=mutation: the same
# examples in every run and no database of past failures, so whether a test kills a mutant
# does not depend on which mutants ran before it.
settings.register_profile("mutation", derandomize=True, database=None)


def pytest_terminal_summary(terminalreporter) -> None:
    """After the run, one line per dtype: the largest error against PyTorch of any layer or
    network check, relative to max(1, |value|), so the suite's output carries the figure."""
    if not WORST:
        return
    terminalreporter.section("agreement with PyTorch")
    for dtype, (err, what) in sorted(WORST.items()):
        terminalreporter.write_line(f"worst {dtype} error: {err:.2e} ({what})")
