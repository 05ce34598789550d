"""Tests of the benchmark harness: its FLOP and memory accounting, and a quick run.

No timing is asserted (machines are noisy); only that the numbers exist and make sense.
"""

from __future__ import annotations

import math
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
    """A speed table with just the columns the targets read."""
    return pd.DataFrame(rows, columns=["task", "dtype", "bias", "batch", "scratchnet_ms",
                                       "ratio"])


def test_targets_are_judged_on_their_worst_row() -> None:
    speed = speed_rows(
        ("train", "float32", "untied", 64, 2.2, 0.66), ("train", "float32", "tied", 64, 2.0, 0.6),
        ("train", "float64", "untied", 64, 3.0, 0.65), ("train", "float64", "tied", 64, 3.0, 0.6),
        ("train", "float32", "untied", 1, 0.5, 1.0), ("infer", "float64", "untied", 1000, 9, 0.29),
    )
    memory = pd.DataFrame({"peak_over_needed": [1.5, 2.1]})
    table = bench.target_table(speed, memory).set_index("target")
    got = {what: (row["worst measured"], row["rows"], row["met"]) for what, row in table.iterrows()}
    assert got == {
        "train, batch 64, float32: ratio": (0.66, 2, "NO"),        # one row over: not met
        "train, batch 64, float64: ratio": (0.65, 2, "yes"),       # the limit itself passes
        "train, batch 1: ratio": (1.0, 1, "NO"),                   # "faster": 1.0 is not
        "infer, float64: ratio": (0.29, 1, "yes"),
        "train: untied bias's extra time over tied": (pytest.approx(0.1), 2, "NO"),
        "memory of a batch-64 step: peak / needed": (2.1, 2, "NO"),
    }                                    # batch 256 and float32 inference: no rows, no line


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("speed")
    # One training row and one inference row, a tenth of a second each, 2,000 images.
    code = bench.main(["--quick", "--out", str(out), "--batches", "16", "--dtypes", "float32",
                       "--biases", "untied", "--seconds", "0.1", "--images", "2000"])
    assert code == 0
    return out


def test_quick_run_writes_the_speed_table(quick_run: Path) -> None:
    speed = pd.read_csv(quick_run / "bench.csv")
    assert list(speed.columns) == bench.SPEED_COLUMNS
    assert speed[["task", "dtype", "bias", "batch"]].values.tolist() == [
        ["train", "float32", "untied", 16], ["infer", "float32", "untied", 1000]]
    positive = ["scratchnet_ms", "torch_ms", "scratchnet_img_s", "torch_img_s", "ratio",
                "scratchnet_gflops", "torch_gflops", "peak_gflops", "peak_fraction", "blocks"]
    values = speed[positive].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    assert (speed[["ratio_iqr", "background_cpu"]] >= 0).all().all()
    row = speed.iloc[0]
    assert math.isclose(row["ratio"], row["scratchnet_ms"] / row["torch_ms"])
    assert math.isclose(row["scratchnet_img_s"], 16 / (row["scratchnet_ms"] / 1e3))


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
