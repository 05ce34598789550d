"""The twin's structure and weight copying in both directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference import UntiedBiasConv2d, copy_from_torch, to_torch
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
