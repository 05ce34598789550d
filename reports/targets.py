"""The targets of the speed work, and how a benchmark run is judged against them.

Each target is a limit on the worst row it covers: scratchnet's time over PyTorch's, its
step's time under load over its quiet time, the untied bias's extra time over the tied
one, a training step's peak memory over its needs.
"""

from __future__ import annotations

import pandas as pd

#: What scratchnet promises (issue 24's targets, on CPUs with and without AVX-512): (what,
#: the speed-table rows it covers, the limit of their ``ratio``, whether the limit itself
#: passes).
TARGETS = [
    ("train, batch 64, float32: ratio", dict(task="train", batch=64, dtype="float32"), 0.5, True),
    ("train, batch 64, float64: ratio", dict(task="train", batch=64, dtype="float64"), 0.5, True),
    ("train_readme, batch 64, float32: ratio",
     dict(task="train_readme", batch=64, dtype="float32"), 0.6, True),
    ("train_readme, batch 64, float64: ratio",
     dict(task="train_readme", batch=64, dtype="float64"), 0.6, True),
    ("train, every batch: ratio", dict(task="train"), 0.75, True),
    ("train_readme, every batch: ratio", dict(task="train_readme"), 0.75, True),
    ("infer, float32: ratio", dict(task="infer", dtype="float32"), 0.5, True),
    ("infer, float64: ratio", dict(task="infer", dtype="float64"), 0.5, True),
]
#: Under load (the under-load table, :func:`reports.bench.bench_load`): (what, its column,
#: the limit of its worst row, whether the limit itself passes). A step at most 1.3 times
#: its quiet time, and faster than PyTorch's under the same load.
LOAD_TARGETS = [
    ("under load, batch 64: scratchnet's loaded / quiet time", "loaded_over_quiet", 1.3, True),
    ("under load, batch 64: ratio to PyTorch under the same load", "loaded_ratio", 1.0, False),
]
UNTIED_EXTRA_LIMIT = 0.05          # the untied bias may cost "a few percent" over the tied one
MEMORY_LIMIT = 2.0                 # peak memory of a step / what it needs
#: The accuracy report's share outside the training steps and the per-epoch evaluations
#: (which its figures need: issue 24).
OVERHEAD_LIMIT = 0.10
REPORT_MINUTES_LIMIT = 6.0         # the accuracy report's wall time (make report)


def target_table(speed: pd.DataFrame, memory: pd.DataFrame, bias: pd.DataFrame | None = None,
                 report: dict[str, float] | None = None, load: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """Each target against the worst measured row it covers.

    Targets without rows are left out. The ratio targets read the speed table's ``ratio``;
    the untied bias's extra time is ``untied_over_tied - 1`` of the bias table
    (:func:`reports.bench.bench_bias`), the memory target the memory table's
    ``peak_over_needed``; the accuracy report's targets read what its committed run says.

    Args:
        speed: the speed table (columns ``task``, ``dtype``, ``batch``, ``ratio`` at least).
        memory: the memory table (column ``peak_over_needed``).
        bias: the bias table (column ``untied_over_tied``); ``None`` or empty when the
            two bias modes were not compared.
        report: what the committed accuracy report says of its run
            (:func:`reports.bench.committed_report`): ``minutes`` and
            ``outside_fraction``, the share of its time outside the two frameworks'
            training steps and evaluations; either may be missing.
        load: the under-load table (columns ``loaded_over_quiet`` and ``loaded_ratio``);
            ``None`` or empty when not measured.

    Returns:
        One row per target: ``target``, ``limit``, ``worst measured``, ``rows`` (how many
        rows it covers) and ``met`` (``yes`` when the worst row is within the limit).
    """
    rows = []

    def add(what: str, worst: float, limit: float, inclusive: bool, rows_used: int) -> None:
        met = worst <= limit if inclusive else worst < limit
        bound = f"<= {limit:g}" if inclusive else f"< {limit:g}"
        rows.append({"target": what, "limit": bound, "worst measured": worst,
                     "rows": rows_used, "met": "yes" if met else "NO"})

    for what, where, limit, inclusive in TARGETS:
        hit = speed
        for column, value in where.items():
            hit = hit[hit[column] == value]
        if len(hit):
            add(what, float(hit["ratio"].max()), limit, inclusive, len(hit))
    if bias is not None and len(bias):
        extra = (bias["untied_over_tied"] - 1).dropna()
        if len(extra):
            add("train: untied bias's extra time over tied", float(extra.max()),
                UNTIED_EXTRA_LIMIT, True, len(extra))
    if load is not None and len(load):
        for what, column, limit, inclusive in LOAD_TARGETS:
            add(what, float(load[column].max()), limit, inclusive, len(load))
    if len(memory):
        add("memory of a batch-64 step: peak / needed", float(memory["peak_over_needed"].max()),
            MEMORY_LIMIT, True, len(memory))
    report = report or {}
    if "minutes" in report:
        add("report: minutes (committed run)", report["minutes"], REPORT_MINUTES_LIMIT, True, 1)
    if "outside_fraction" in report:
        add("report: share of its time outside the training steps and evaluations "
            "(committed run)",
            report["outside_fraction"], OVERHEAD_LIMIT, True, 1)
    return pd.DataFrame(rows)
