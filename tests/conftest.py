"""Session-wide test set-up: print the worst disagreement with PyTorch seen in the run."""

from __future__ import annotations

from tests.torch_check import WORST


def pytest_terminal_summary(terminalreporter) -> None:
    """After the run, one line per dtype: the largest error against PyTorch of any layer or
    network check, relative to max(1, |value|), so the suite's output carries the figure."""
    if not WORST:
        return
    terminalreporter.section("agreement with PyTorch")
    for dtype, (err, what) in sorted(WORST.items()):
        terminalreporter.write_line(f"worst {dtype} error: {err:.2e} ({what})")
