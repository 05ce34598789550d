"""Tests of the work accounting: FLOPs and memory a training step needs, and its measured peak.

The counts are checked against independent hand counts; the measured memory only for sense
(tracemalloc's figures depend on NumPy's allocations).
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from reports import work
from scratchnet import Conv2D, Dense, ReLU, Sequential, seed_network


@pytest.mark.parametrize("bias", ["untied", "tied"])
def test_flop_count_of_the_full_seed_network(bias: str) -> None:
    # Independent count: conv1 4x24x24 outputs x 1x5x5 = 57,600; conv2 8x8x8 x 4x5x5 =
    # 51,200; fc1 128x128 = 16,384; fc2 128x10 = 1,280.
    table = work.flop_table(seed_network("full", bias=bias))
    assert table["forward"].to_dict() == {"conv1": 57_600, "conv2": 51_200, "fc1": 16_384,
                                          "fc2": 1_280}
    assert table["forward"].sum() == 126_464
    assert table.loc["conv1", "input_grad"] == 0          # the first conv needs no dx
    infer, train = work.flops_per_image(seed_network("full", bias=bias))
    assert infer == 2 * 126_464
    assert train == 2 * (126_464 + 126_464 + 126_464 - 57_600)   # about 0.64 MFLOP
    assert 0.64e6 < train < 0.65e6


def test_activation_memory_of_small_networks() -> None:
    # Dense first: outputs 2 + 2, input gradients 3 + 2 (a first Dense keeps its dx).
    net = Sequential(Dense(3, 2, dtype=np.float32), ReLU())
    assert work.activation_table(net, (3,)).to_numpy().sum() == 9
    assert work.activation_bytes(net, batch=5, input_shape=(3,)) == 9 * 5 * 4

    # Conv first: output 2x3x3 = 18 per layer; the conv's input gradient is skipped.
    net = Sequential(Conv2D(1, 2, 3, input_shape=(1, 5, 5), dtype=np.float64), ReLU())
    table = work.activation_table(net, (1, 5, 5))
    assert table.to_dict("index") == {"conv1": {"output": 18, "input_grad": 0},
                                      "relu1": {"output": 18, "input_grad": 18}}
    assert work.activation_bytes(net, batch=2, input_shape=(1, 5, 5)) == 54 * 2 * 8
    # weight 2x1x3x3 + tied bias 2 = 20 parameters; with grads and momentum: x3.
    assert work.state_bytes(net) == 3 * 20 * 8


def test_activation_memory_of_the_full_seed_network() -> None:
    table = work.activation_table(seed_network("full"))
    # outputs: 2304 (conv1, relu1), 576, 512 (conv2, relu2), 128 (pool2, flatten, fc1,
    # relu3), 10 (fc2, identity); input gradients: the inputs' sizes, none for conv1.
    assert table["output"].sum() == 2 * 2304 + 576 + 2 * 512 + 4 * 128 + 2 * 10
    assert table["input_grad"].sum() == 2 * 2304 + 576 + 2 * 512 + 4 * 128 + 10
    assert work.activation_bytes(seed_network("full", dtype=np.float32), 64) == \
        (6740 + 6730) * 64 * 4


def test_measured_memory_of_a_small_step() -> None:
    row = work.measure_train_memory("float32", batch=4)
    assert list(row) == work.MEMORY_COLUMNS
    assert (row["dtype"], row["bias"], row["batch"]) == ("float32", "untied", 4)
    net = seed_network("full", dtype=np.float32)
    assert row["activations_mb"] == work.activation_bytes(net, 4) / 1e6
    assert row["state_mb"] == work.state_bytes(net) / 1e6
    assert math.isclose(row["needed_mb"], row["activations_mb"] + row["state_mb"])
    # Between steps the parameters, gradients and momentum buffers stay allocated.
    assert row["traced_peak_mb"] >= row["between_steps_mb"] >= row["state_mb"]
    assert math.isclose(row["peak_over_needed"], row["traced_peak_mb"] / row["needed_mb"])
    assert not tracemalloc.is_tracing()                  # tracing stopped as it was found
