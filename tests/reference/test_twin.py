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


# ---- layers with buffers and modes: batch norm, layer norm -----------------------------

def norm_network(seed: int = 0):
    """A small network holding both batch norms and a layer norm, with random weights and
    running statistics (PyTorch's initial 0 and 1 would hide a buffer not copied)."""
    from scratchnet import BatchNorm1D, BatchNorm2D, Conv2D, Dense, Flatten, LayerNorm, Sequential

    draw = np.random.default_rng(seed)
    net = Sequential(Conv2D(1, 3, 3, rng=draw), BatchNorm2D(3, momentum=0.3), Flatten(),
                     Dense(3 * 4 * 4, 6, rng=draw), BatchNorm1D(6, eps=1e-3), LayerNorm(6),
                     Dense(6, 4, rng=draw))
    for key, value in {**net.named_params(), **net.named_buffers()}.items():
        if value.dtype == np.float64 and "conv" not in key and "fc" not in key:
            value[...] = draw.uniform(0.5, 2.0, value.shape)
    return net, draw.standard_normal((5, 1, 6, 6)), draw.integers(0, 4, 5)


def test_the_twin_of_norm_layers_has_their_settings_buffers_and_mode() -> None:
    net, _, _ = norm_network()
    twin = to_torch(net)
    state, ours = twin.state_dict(), {**net.named_params(), **net.named_buffers()}
    assert set(state) == set(ours)
    for key, value in ours.items():
        np.testing.assert_array_equal(state[key].numpy(), value, err_msg=key)
    assert (twin.bn1.momentum, twin.bn1.eps, twin.bn2.eps) == (0.3, 1e-5, 1e-3)
    assert isinstance(twin.ln1, torch.nn.LayerNorm) and twin.ln1.normalized_shape == (6,)
    assert twin.bn1.training and not to_torch(net.eval()).bn1.training


def test_copy_from_torch_brings_the_buffers_back() -> None:
    net, x, _ = norm_network()
    twin = to_torch(net)
    with torch.no_grad():
        twin(torch.from_numpy(x))                    # training: the running statistics move
    copy_from_torch(twin, net)
    for key, value in twin.state_dict().items():
        ours = {**net.named_params(), **net.named_buffers()}[key]
        np.testing.assert_array_equal(ours, value.numpy(), err_msg=key)


@pytest.mark.parametrize("training", [True, False])
def test_compare_covers_norm_layers_and_their_buffers(training: bool) -> None:
    """Every output, buffer and gradient in both modes, float64 at 1e-12; twice in
    training mode, so the second batch starts from the running statistics the first left."""
    from reference import compare, format_comparison

    net, x, labels = norm_network()
    net.train(training)
    for _ in range(2):
        df = compare(net, x, labels)
        assert df.attrs["first_divergence"] is None, format_comparison(df)
    rows = set(zip(df["layer"], df["quantity"], strict=True))
    assert {("bn1", "running_mean"), ("bn2", "running_var"), ("ln1", "grad weight")} <= rows


def test_compare_names_a_running_statistic_that_does_not_move() -> None:
    """A batch norm that forgets its running update computes the right output and
    gradients in training mode: only its buffer rows, right after its output, say so."""
    from reference import compare
    from scratchnet import BatchNorm2D

    class Frozen(BatchNorm2D):
        def _update_running_stats(self, mean, var, M):
            pass

    net, x, labels = norm_network()
    frozen = Frozen(3, momentum=0.3)
    frozen.params, frozen.grads, frozen.buffers = (net.layers["bn1"].params,
                                                   net.layers["bn1"].grads,
                                                   net.layers["bn1"].buffers)
    net.layers["bn1"] = frozen
    df = compare(net, x, labels)
    assert df.attrs["first_divergence"] == "bn1 running_mean"
    assert set(df.loc[~df["passed"], "quantity"]) == {"running_mean", "running_var"}
