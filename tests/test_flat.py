"""scratchnet.flat: which arrays count as flat parameters, and when they stop being used."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnet import Sequential, seed_network
from scratchnet.flat import FlatParameters, gather_parameters
from scratchnet.layers import Conv2D

SHAPES = {"a.weight": (2, 3), "a.bias": (2,), "b.weight": (4, 1)}


def flat_views(spare: int = 0):
    """Two flat arrays and the dicts of views into them, in ``SHAPES`` order, the arrays
    ``spare`` numbers longer than the views."""
    size = sum(int(np.prod(s)) for s in SHAPES.values()) + spare
    params, grads = np.arange(size, dtype=float), np.zeros(size)
    named_params, named_grads, start = {}, {}, 0
    for key, shape in SHAPES.items():
        end = start + int(np.prod(shape))
        named_params[key] = params[start:end].reshape(shape)
        named_grads[key] = grads[start:end].reshape(shape)
        start = end
    return params, grads, named_params, named_grads


def test_views_in_order_filling_the_arrays_are_flat() -> None:
    params, grads, named_params, named_grads = flat_views()
    flat = FlatParameters.of(params, grads, named_params, named_grads)
    assert flat is not None and flat.params is params and flat.grads is grads
    assert flat.in_use(named_params, named_grads)


@pytest.mark.parametrize("spoil", [
    "grads in another key order", "a copy, not a view", "a transposed view",
    "views that leave the end unused", "a view of another array",
])
def test_anything_else_is_not(spoil: str) -> None:
    params, grads, named_params, named_grads = flat_views()
    if spoil == "grads in another key order":
        named_grads = dict(reversed(named_grads.items()))
    elif spoil == "a copy, not a view":
        named_grads["a.bias"] = named_grads["a.bias"].copy()
    elif spoil == "a transposed view":   # same memory, the numbers at other places
        named_params["a.weight"] = params[:6].reshape(3, 2).T
    elif spoil == "views that leave the end unused":
        params, grads, named_params, named_grads = flat_views(spare=1)
    elif spoil == "a view of another array":
        named_params = flat_views()[2]
    assert FlatParameters.of(params, grads, named_params, named_grads) is None, spoil


def test_a_replaced_array_ends_the_flat_use() -> None:
    params, grads, named_params, named_grads = flat_views()
    flat = FlatParameters.of(params, grads, named_params, named_grads)
    assert not flat.in_use(named_params, {**named_grads, "a.bias": np.ones(2)})
    assert not flat.in_use({k: v for k, v in named_params.items() if k != "b.weight"},
                           named_grads)


def test_sequential_hands_over_what_it_gathered() -> None:
    net = seed_network("full", seed=0)
    flat = net.flat_parameters()
    assert flat is not None and flat.in_use(net.named_params(), net.named_grads())
    assert flat.params is net.flat_params and flat.grads is net.flat_grads
    assert gather_parameters([]) is None     # nothing to gather


def test_float32_parameters_and_gradients_stay_float32() -> None:
    net = seed_network("full", dtype=np.float32, seed=0)
    assert net.flat_params.dtype == net.flat_grads.dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.named_grads().values())


def test_a_single_parameter_is_gathered_too() -> None:
    net = Sequential(Conv2D(1, 2, 3, bias=None, rng=np.random.default_rng(0)))
    flat = net.flat_parameters()
    assert flat is not None and np.shares_memory(net["conv1"].params["weight"], flat.params)
