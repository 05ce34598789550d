"""Tests of the targets: each judged on the worst row it covers, the bias one on the bias table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reports import targets
from reports.bench import BIAS_COLUMNS
from tests.reports.tables import SPEED, UNTIED_TARGET, bias_rows


def test_targets_are_judged_on_their_worst_row() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5, 2.1]})
    report = {"minutes": 6.0, "outside_fraction": 0.12}
    load = pd.DataFrame({"loaded_over_quiet": [1.1, 1.3], "loaded_ratio": [0.5, 1.0]})
    table = targets.target_table(SPEED, memory, bias_rows(1.02, 1.1, 0.97),
                                 report, load).set_index("target")
    got = {what: (row["worst measured"], row["rows"], row["met"]) for what, row in table.iterrows()}
    assert got == {
        "train, batch 64, float32: ratio": (0.51, 2, "NO"),           # one row over: not met
        "train, batch 64, float64: ratio": (0.5, 2, "yes"),           # the limit itself passes
        "train_readme, batch 64, float32: ratio": (0.6, 1, "yes"),
        "train_readme, batch 64, float64: ratio": (0.61, 1, "NO"),
        "train, every batch: ratio": (0.76, 5, "NO"),                 # batch 1's row
        "train_readme, every batch: ratio": (0.75, 3, "yes"),
        "infer, float64: ratio": (0.5, 1, "yes"),
        # The worst of 2 rows; the limit 1.3 itself passes, a ratio of 1.0 is not faster.
        "under load, batch 64: scratchnet's loaded / quiet time": (1.3, 2, "yes"),
        "under load, batch 64: ratio to PyTorch under the same load": (1.0, 2, "NO"),
        UNTIED_TARGET: (pytest.approx(0.1), 3, "NO"),                 # the worst of 3 rows
        "memory of a batch-64 step: peak / needed": (2.1, 2, "NO"),
        "report: minutes (committed run)": (6.0, 1, "yes"),
        "report: share of its time outside the training steps and evaluations "
        "(committed run)": (0.12, 1, "NO"),
    }                                    # float32 inference: no rows, no line


def test_report_targets_need_what_the_report_says() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5]})
    for report in (None, {}, {"minutes": 5.9}):
        table = targets.target_table(SPEED, memory, None, report)
        lines = {what for what in table["target"] if what.startswith("report:")}
        assert lines == ({"report: minutes (committed run)"} if report else set())


def test_untied_target_is_read_from_the_bias_table() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5]})
    # Within the limit (0.05), although the train rows differ by 50%.
    table = targets.target_table(SPEED, memory, bias_rows(1.04, 0.98)).set_index("target")
    assert table.loc[UNTIED_TARGET, "worst measured"] == pytest.approx(0.04)
    assert table.loc[UNTIED_TARGET, "rows"] == 2
    assert table.loc[UNTIED_TARGET, "met"] == "yes"
    assert table.loc[UNTIED_TARGET, "limit"] == "<= 0.05"
    table = targets.target_table(SPEED, memory, bias_rows(1.06)).set_index("target")
    assert table.loc[UNTIED_TARGET, "met"] == "NO"
    # No bias table (or an empty one, or only NaN): no line, the other targets stay.
    empty = pd.DataFrame(columns=BIAS_COLUMNS)
    for missing in (None, empty, bias_rows(math.nan)):
        table = targets.target_table(SPEED, memory, missing)
        assert UNTIED_TARGET not in set(table["target"])
        assert len(table) == 8
