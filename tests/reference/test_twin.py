"""The twin's structure and weight copying in both directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference import UntiedBiasConv2d, copy_from_torch, register_twin, to_torch, twin_of_layer
from reference.twin import _TWIN_OF_CLASS, _TWIN_OF_KIND
from scratchnet import seed_network


@pytest.mark.parametrize("bias", ["untied", "tied", None])
@pytest.mark.parametrize("dtype, torch_dtype", [(np.float64, torch.float64),
                                                (np.float32, torch.float32)])
def test_twin_has_the_same_keys_shapes_values_and_dtype(bias, dtype, torch_dtype) -> None:
    net = seed_network("full", bias=bias, dtype=dtype)
    state = to_torch(net).state_dict()
    params = net.named_params()
    assert list(state) == list(params)
    for key, value in params.items():
        assert state[key].dtype == torch_dtype
        np.testing.assert_array_equal(state[key].numpy(), value)


def test_untied_bias_is_a_module_with_a_chw_bias() -> None:
    twin = to_torch(seed_network("full", bias="untied"))
    assert isinstance(twin.conv1, UntiedBiasConv2d)
    assert tuple(twin.conv1.bias.shape) == (4, 24, 24)
    assert isinstance(to_torch(seed_network("full", bias="tied")).conv1, torch.nn.Conv2d)


def test_twin_owns_its_weights() -> None:
    net = seed_network("shallow")
    twin = to_torch(net)
    with torch.no_grad():
        twin.fc1.weight.zero_()
    assert net.named_params()["fc1.weight"].any()


def test_copy_back_from_torch() -> None:
    net, other = seed_network("full", seed=1), seed_network("full", seed=2)
    copy_from_torch(to_torch(other), net)
    for key, value in other.named_params().items():
        np.testing.assert_array_equal(net.named_params()[key], value)


def test_copy_back_rejects_a_different_architecture() -> None:
    with pytest.raises(ValueError, match="load_params: keys differ"):
        copy_from_torch(to_torch(seed_network("shallow")), seed_network("full"))


def test_a_protocol_layer_gets_its_twin_from_its_kind_and_shapes() -> None:
    from tests.reference.student_layers import StudentConv2D, StudentMaxPool2D

    conv = StudentConv2D(2, 3, 3, stride=2, padding=1, bias="untied", input_shape=(2, 7, 6))
    twin = twin_of_layer(conv, torch.float64)
    assert isinstance(twin, UntiedBiasConv2d)
    assert (twin.stride, twin.padding) == (2, 1)
    assert tuple(twin.bias.shape) == conv.params["bias"].shape == (3, 4, 3)
    tied = twin_of_layer(StudentConv2D(2, 3, 3, padding=1), torch.float64)
    assert isinstance(tied, torch.nn.Conv2d) and tied.padding == (1, 1) and tied.bias is not None
    pool = twin_of_layer(StudentMaxPool2D(3, 2), torch.float64)
    assert (pool.kernel_size, pool.stride) == (3, 2)


class Swish:
    """A layer of a kind no twin is registered for."""

    kind = "swish"

    def __init__(self) -> None:
        self.params, self.grads = {}, {}

    def forward(self, x):
        return x / (1 + np.exp(-x))

    def backward(self, grad_y):
        raise NotImplementedError


def test_register_twin_by_kind_or_class() -> None:
    with pytest.raises(TypeError, match=r"no PyTorch twin for Swish \(Swish, kind 'swish'\): "
                                        r"give its class a kind, one of \[.*'conv2d'"):
        twin_of_layer(Swish(), torch.float64)

    class Other(Swish):
        pass

    register_twin("swish", lambda layer, dtype: torch.nn.SiLU())
    register_twin(Other, lambda layer, dtype: torch.nn.Identity())
    try:
        assert isinstance(twin_of_layer(Swish(), torch.float64), torch.nn.SiLU)
        assert isinstance(twin_of_layer(Other(), torch.float64), torch.nn.Identity)  # class first
    finally:                                  # the registry is the process's: leave it as found
        del _TWIN_OF_KIND["swish"], _TWIN_OF_CLASS[Other]
    with pytest.raises(TypeError, match="register_twin: expected a kind or a class"):
        register_twin(3, lambda layer, dtype: None)


def test_buffers_are_copied_both_ways() -> None:
    """A batch norm's running statistics and batch count go into the twin with the weights
    (its ``state_dict`` is the net's parameters and buffers), and come back from it."""
    net = seed_network("full-bn-dropout", seed=1)
    net.forward(np.random.default_rng(0).random((4, 1, 28, 28)))  # the statistics move
    state = to_torch(net).state_dict()
    ours = {**net.named_params(), **net.named_buffers()}
    assert sorted(state) == sorted(ours)
    for key, value in ours.items():
        np.testing.assert_array_equal(state[key].numpy(), value)
    assert int(state["bn2.num_batches_tracked"]) == 1

    fresh = seed_network("full-bn-dropout", seed=2)
    copy_from_torch(to_torch(net), fresh)
    for key, value in ours.items():
        np.testing.assert_array_equal({**fresh.named_params(), **fresh.named_buffers()}[key],
                                      value)
