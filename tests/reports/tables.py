"""Small hand-made result tables for the tests of the targets and of the report."""

from __future__ import annotations

import pandas as pd


def speed_rows(*rows: tuple[str, str, str, int, float, float]) -> pd.DataFrame:
    """A speed table with just the columns the targets read (and scratchnet_ms)."""
    return pd.DataFrame(rows, columns=["task", "dtype", "bias", "batch", "scratchnet_ms",
                                       "ratio"])


def bias_rows(*untied_over_tied: float) -> pd.DataFrame:
    """A bias table with one row per ratio (float32, batches 1, 2, ...)."""
    n = len(untied_over_tied)
    return pd.DataFrame({"dtype": ["float32"] * n, "batch": list(range(1, n + 1)),
                         "untied_over_tied": list(untied_over_tied)})


UNTIED_TARGET = "train: untied bias's extra time over tied"

# The untied train rows take 1.5 x the tied rows' scratchnet_ms: the bias target must not
# be read from these (timed at different moments) but from the bias table.
SPEED = speed_rows(
    ("train", "float32", "untied", 64, 3.0, 0.51), ("train", "float32", "tied", 64, 2.0, 0.4),
    ("train", "float64", "untied", 64, 4.5, 0.5), ("train", "float64", "tied", 64, 3.0, 0.4),
    ("train", "float32", "untied", 1, 0.5, 0.76),
    ("train_readme", "float32", "untied", 64, 3.5, 0.6),
    ("train_readme", "float64", "untied", 64, 5.0, 0.61),
    ("train_readme", "float32", "untied", 1, 0.6, 0.75),
    ("infer", "float64", "untied", 1000, 9, 0.5),
)
