"""Tests of the benchmark harness: its FLOP and memory accounting, and a quick run.

No timing is asserted (machines are noisy); only that the numbers exist and make sense.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import bench
from scratchnet import Conv2D, Dense, ReLU, Sequential, seed_network


@pytest.mark.parametrize("bias", ["untied", "tied"])
def test_flop_count_of_the_full_seed_network(bias: str) -> None:
    # Independent count: conv1 4x24x24 outputs x 1x5x5 = 57,600; conv2 8x8x8 x 4x5x5 =
    # 51,200; fc1 128x128 = 16,384; fc2 128x10 = 1,280.
    table = bench.flop_table(seed_network("full", bias=bias))
    assert table["forward"].to_dict() == {"conv1": 57_600, "conv2": 51_200, "fc1": 16_384,
                                          "fc2": 1_280}
    assert table["forward"].sum() == 126_464
    assert table.loc["conv1", "input_grad"] == 0          # the first conv needs no dx
    infer, train = bench.flops_per_image(seed_network("full", bias=bias))
    assert infer == 2 * 126_464
    assert train == 2 * (126_464 + 126_464 + 126_464 - 57_600)   # about 0.64 MFLOP
    assert 0.64e6 < train < 0.65e6


def test_activation_memory_of_small_networks() -> None:
    # Dense first: outputs 2 + 2, input gradients 3 + 2 (a first Dense keeps its dx).
    net = Sequential(Dense(3, 2, dtype=np.float32), ReLU())
    assert bench.activation_table(net, (3,)).to_numpy().sum() == 9
    assert bench.activation_bytes(net, batch=5, input_shape=(3,)) == 9 * 5 * 4

    # Conv first: output 2x3x3 = 18 per layer; the conv's input gradient is skipped.
    net = Sequential(Conv2D(1, 2, 3, input_shape=(1, 5, 5), dtype=np.float64), ReLU())
    table = bench.activation_table(net, (1, 5, 5))
    assert table.to_dict("index") == {"conv1": {"output": 18, "input_grad": 0},
                                      "relu1": {"output": 18, "input_grad": 18}}
    assert bench.activation_bytes(net, batch=2, input_shape=(1, 5, 5)) == 54 * 2 * 8
    # weight 2x1x3x3 + tied bias 2 = 20 parameters; with grads and momentum: x3.
    assert bench.state_bytes(net) == 3 * 20 * 8


def test_activation_memory_of_the_full_seed_network() -> None:
    table = bench.activation_table(seed_network("full"))
    # outputs: 2304 (conv1, relu1), 576, 512 (conv2, relu2), 128 (pool2, flatten, fc1,
    # relu3), 10 (fc2, identity); input gradients: the inputs' sizes, none for conv1.
    assert table["output"].sum() == 2 * 2304 + 576 + 2 * 512 + 4 * 128 + 2 * 10
    assert table["input_grad"].sum() == 2 * 2304 + 576 + 2 * 512 + 4 * 128 + 10
    assert bench.activation_bytes(seed_network("full", dtype=np.float32), 64) == \
        (6740 + 6730) * 64 * 4


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
    ("train", "float32", "untied", 64, 3.0, 0.66), ("train", "float32", "tied", 64, 2.0, 0.6),
    ("train", "float64", "untied", 64, 4.5, 0.65), ("train", "float64", "tied", 64, 3.0, 0.6),
    ("train", "float32", "untied", 1, 0.5, 1.0), ("infer", "float64", "untied", 1000, 9, 0.29),
)


def test_targets_are_judged_on_their_worst_row() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5, 2.1]})
    table = bench.target_table(SPEED, memory, bias_rows(1.02, 1.1, 0.97)).set_index("target")
    got = {what: (row["worst measured"], row["rows"], row["met"]) for what, row in table.iterrows()}
    assert got == {
        "train, batch 64, float32: ratio": (0.66, 2, "NO"),        # one row over: not met
        "train, batch 64, float64: ratio": (0.65, 2, "yes"),       # the limit itself passes
        "train, batch 1: ratio": (1.0, 1, "NO"),                   # "faster": 1.0 is not
        "infer, float64: ratio": (0.29, 1, "yes"),
        UNTIED_TARGET: (pytest.approx(0.1), 3, "NO"),              # the worst of 3 rows
        "memory of a batch-64 step: peak / needed": (2.1, 2, "NO"),
    }                                    # batch 256 and float32 inference: no rows, no line


def test_untied_target_is_read_from_the_bias_table() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5]})
    # Within the limit (0.05), although the train rows differ by 50%.
    table = bench.target_table(SPEED, memory, bias_rows(1.04, 0.98)).set_index("target")
    assert table.loc[UNTIED_TARGET, "worst measured"] == pytest.approx(0.04)
    assert table.loc[UNTIED_TARGET, "rows"] == 2
    assert table.loc[UNTIED_TARGET, "met"] == "yes"
    assert table.loc[UNTIED_TARGET, "limit"] == "<= 0.05"
    table = bench.target_table(SPEED, memory, bias_rows(1.06)).set_index("target")
    assert table.loc[UNTIED_TARGET, "met"] == "NO"
    # No bias table (or an empty one, or only NaN): no line, the other targets stay.
    empty = pd.DataFrame(columns=bench.BIAS_COLUMNS)
    for missing in (None, empty, bias_rows(math.nan)):
        table = bench.target_table(SPEED, memory, missing)
        assert UNTIED_TARGET not in set(table["target"])
        assert len(table) == 5


def test_report_says_when_the_bias_modes_were_not_compared() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5]})
    text = bench.render_markdown(SPEED, memory, {"float32": 100.0}, {"CPU": "test"},
                                 "python -m reports.bench --quick", quick=True)
    section = text.split("## Untied vs tied bias (scratchnet against itself)")[1]
    assert section.split("##")[0].strip().startswith("Not measured in this run")
    assert UNTIED_TARGET not in text

    text = bench.render_markdown(SPEED, memory, {"float32": 100.0}, {"CPU": "test"},
                                 "python -m reports.bench", quick=False,
                                 bias=bias_rows(1.04, 0.98))
    section = text.split("## Untied vs tied bias (scratchnet against itself)")[1]
    table = [line for line in section.split("##")[0].splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2                              # header, rule, two rows
    assert "untied_over_tied" in table[0]
    assert "1.04" in table[2] and "0.980" in table[3]
    assert "Not measured" not in section
    assert UNTIED_TARGET in text


def test_bench_bias_times_the_two_bias_modes_against_each_other() -> None:
    row = bench.bench_bias("float32", 4, seconds=0.05, quick=True)
    assert list(row) == bench.BIAS_COLUMNS
    assert (row["dtype"], row["batch"]) == ("float32", 4)
    for column in ["tied_ms", "untied_ms", "untied_over_tied"]:
        assert row[column] > 0 and math.isfinite(row[column])
    assert row["blocks"] >= 2                               # quick: 2 rounds at least
    assert row["ratio_iqr"] >= 0 and row["background_cpu"] >= 0
    # The median of the per-round ratios is near the ratio of the median times (a loose
    # bound: the two differ by noise only, but these blocks are few and short).
    assert math.isclose(row["untied_over_tied"], row["untied_ms"] / row["tied_ms"],
                        rel_tol=0.5)


def test_bench_bias_ratio_is_the_median_of_the_round_ratios(
        monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    seed_network = bench.seed_network

    def recording_seed_network(*args: object, **kwargs: object) -> Sequential:
        built.append((args, kwargs))
        return seed_network(*args, **kwargs)

    # Per round, untied / tied = 1.1, 1.0, 1.05, 1.1, 1.0: median 1.05, quartiles 1.0 and
    # 1.1. The ratio of the medians (1.1 / 1.0) would differ.
    tied = [1.0, 2.0, 1.0, 2.0, 1.0]
    untied = [1.1, 2.0, 1.05, 2.2, 1.0]

    def fake_time_interleaved(fns: dict[str, Callable[[], None]], seconds: float,
                              min_rounds: int, warmup_seconds: float
                              ) -> tuple[dict[str, bench.Timing], float]:
        assert set(fns) == {"tied", "untied"}
        for fn in fns.values():
            fn()                                            # both steps run
        return ({"tied": bench.Timing(statistics.median(tied), tied, 3),
                 "untied": bench.Timing(statistics.median(untied), untied, 3)}, 0.25)

    monkeypatch.setattr(bench, "seed_network", recording_seed_network)
    monkeypatch.setattr(bench, "time_interleaved", fake_time_interleaved)
    row = bench.bench_bias("float64", 2, seconds=1.0)
    assert sorted(kwargs["bias"] for _, kwargs in built) == ["tied", "untied"]
    assert all(args == ("full",) and kwargs["seed"] == 0 and kwargs["dtype"] == np.float64
               for args, kwargs in built)
    assert row == {"dtype": "float64", "batch": 2, "tied_ms": 1000.0,
                   "untied_ms": pytest.approx(1100.0), "untied_over_tied": pytest.approx(1.05),
                   "ratio_iqr": pytest.approx(0.1), "blocks": 5, "background_cpu": 0.25}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("speed")
    # Two training rows (untied and tied bias), one untied-vs-tied row and one inference
    # row, a tenth of a second each, 2,000 images.
    code = bench.main(["--quick", "--out", str(out), "--batches", "16", "--dtypes", "float32",
                       "--biases", "untied,tied", "--seconds", "0.1", "--images", "2000"])
    assert code == 0
    return out


def test_quick_run_writes_the_speed_table(quick_run: Path) -> None:
    speed = pd.read_csv(quick_run / "bench.csv")
    assert list(speed.columns) == bench.SPEED_COLUMNS
    assert speed[["task", "dtype", "bias", "batch"]].values.tolist() == [
        ["train", "float32", "untied", 16], ["train", "float32", "tied", 16],
        ["infer", "float32", "untied", 1000]]
    positive = ["scratchnet_ms", "torch_ms", "scratchnet_img_s", "torch_img_s", "ratio",
                "scratchnet_gflops", "torch_gflops", "peak_gflops", "peak_fraction", "blocks"]
    values = speed[positive].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    assert (speed[["ratio_iqr", "background_cpu"]] >= 0).all().all()
    row = speed.iloc[0]
    assert math.isclose(row["ratio"], row["scratchnet_ms"] / row["torch_ms"])
    assert math.isclose(row["scratchnet_img_s"], 16 / (row["scratchnet_ms"] / 1e3))


def test_quick_run_writes_the_bias_table(quick_run: Path) -> None:
    bias = pd.read_csv(quick_run / "bias.csv")
    assert list(bias.columns) == bench.BIAS_COLUMNS
    assert bias[["dtype", "batch"]].values.tolist() == [["float32", 16]]
    values = bias[["tied_ms", "untied_ms", "untied_over_tied", "blocks"]].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    assert (bias[["ratio_iqr", "background_cpu"]] >= 0).all().all()

    text = (quick_run / "bench.md").read_text()
    section = text.split("## Untied vs tied bias (scratchnet against itself)")[1]
    assert all(column in section for column in bench.BIAS_COLUMNS)
    targets = text.split("## Targets")[1].split("## Speed")[0]
    assert UNTIED_TARGET in targets


def test_quick_run_writes_memory_and_markdown(quick_run: Path) -> None:
    memory = pd.read_csv(quick_run / "memory.csv")
    assert list(memory.columns) == bench.MEMORY_COLUMNS
    values = memory.drop(columns=["dtype", "bias"]).to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    row = memory.iloc[0]
    assert math.isclose(row["needed_mb"], row["activations_mb"] + row["state_mb"])
    assert row["traced_peak_mb"] >= row["between_steps_mb"]

    text = (quick_run / "bench.md").read_text()
    for needle in ["python -m reports.bench --quick", "torch threads", "CPU", "numpy",
                   "## How to read", "## Targets", "## Speed", "## Memory",
                   *bench.SPEED_COLUMNS]:
        assert needle in text
    assert not list(quick_run.glob("*.tmp"))             # atomic writes left no temp files
