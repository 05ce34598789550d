"""Session-wide test set-up: one thread for NumPy's BLAS and for PyTorch, the Hypothesis
profile mutation testing runs under, and the worst disagreement with PyTorch seen in the run
(gathered from every pytest-xdist worker)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings
from threadpoolctl import threadpool_limits

from tests.torch_check import WORST, remember_worst

# One thread each, as the report's workers run: the tests' arrays are small, and on a
# 2-core machine a second thread mostly spins instead of computing (and `make test` runs
# two pytest workers, one per core). A test that needs other thread counts sets them itself
# and restores them.
threadpool_limits(1)
torch.set_num_threads(1)

# `make mutation` (pyproject's [tool.mutmut]) passes --hypothesis-profile=mutation: the same
# examples in every run and no database of past failures, so whether a test kills a mutant
# does not depend on which mutants ran before it.
settings.register_profile("mutation", derandomize=True, database=None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker (`make test` runs two), hand this worker's worst errors to
    the main process, which prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["worst_torch_errors"] = dict(WORST)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """In the main process, when a pytest-xdist worker finishes: keep its worst errors."""
    for dtype_name, (err, what) in getattr(node, "workeroutput", {}).get(
            "worst_torch_errors", {}).items():
        remember_worst(dtype_name, err, what)


def pytest_terminal_summary(terminalreporter) -> None:
    """After the run, one line per dtype: the largest error against PyTorch of any layer or
    network check, relative to max(1, |value|), so the suite's output carries the figure."""
    if not WORST:
        return
    terminalreporter.section("agreement with PyTorch")
    for dtype, (err, what) in sorted(WORST.items()):
        terminalreporter.write_line(f"worst {dtype} error: {err:.2e} ({what})")
