"""The seed networks against their PyTorch twins, finite differences, and the summary."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference import to_torch
from scratchnet import (
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Identity,
    MaxPool2D,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    seed_network,
)
from scratchnet.layers import MaxPoolReLU, ShapeError
from scratchnet.network import DROPOUT_P, infer_chunk
from scratchnet.optim import SGD
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.synthetic_data import digits
from tests.torch_check import assert_network_matches_twin, check


@pytest.mark.parametrize("variant", ["full", "shallow"])
@pytest.mark.parametrize("bias", ["untied", "tied", None])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 7, 32])
def test_seed_network_matches_twin(variant: str, bias, dtype, batch: int) -> None:
    rng = np.random.default_rng(batch)
    net = seed_network(variant, bias=bias, dtype=dtype, seed=batch)
    labels = rng.integers(0, 10, batch)
    assert_network_matches_twin(net, digits(rng, batch, dtype), labels, infer=True)


@pytest.mark.parametrize("init", ["torch", "he"])
def test_seed_network_matches_twin_on_noise_and_he_init(init: str) -> None:
    rng = np.random.default_rng(0)
    net = seed_network("full", init=init, seed=3)
    assert_network_matches_twin(net, rng.standard_normal((5, 1, 28, 28)), rng.integers(0, 10, 5),
                                infer=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seams", [-1, 0, 2.1])
def test_infer_in_chunks_matches_the_twin(dtype, seams: float) -> None:
    # Sequential.infer passes infer_chunk(dtype) images at a time: the seams must not show.
    chunk = infer_chunk(dtype)
    assert chunk == {np.float32: 128, np.float64: 64}[dtype]
    batch = chunk - 1 if seams == -1 else chunk if seams == 0 else int(seams * chunk)
    rng = np.random.default_rng(batch)
    net = seed_network("full", seed=batch, dtype=dtype)
    x = digits(rng, batch, dtype)
    with torch.no_grad():
        expected = to_torch(net)(torch.from_numpy(x)).numpy()
    check(net.infer(x), expected, dtype, f"infer logits, batch {batch}")
    assert net.infer(x[:0]).shape == (0, 10)


def test_run_order_fuses_relu_into_the_pool_after_it() -> None:
    net = seed_network("full")
    assert [layer.name for layer in net.run_order] == [
        "conv1", "relu1+pool1", "conv2", "relu2+pool2", "flatten1", "fc1", "relu3", "fc2",
        "identity1",
    ]
    fused = net.run_order[1]
    assert isinstance(fused, MaxPoolReLU)
    assert (fused.relu, fused.pool) == (net["relu1"], net["pool1"])
    assert list(net.layers) == [layer.name for layer in net]   # the given order is kept
    # Windows over 15 x 15 leave no winner value free to mark the ReLU's zeros: swapped only.
    assert [type(layer) for layer in Sequential(ReLU(), MaxPool2D(16)).run_order] == [
        MaxPool2D, ReLU]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stride", [2, 1])
def test_pooling_before_relu_changes_no_bit(dtype, stride: int) -> None:
    """ReLU -> MaxPool2D run fused gives the very same numbers as in the given order.

    The input holds what could tell the two orders apart: windows of equal values
    (positive, zero and negative ties), windows whose maximum is 0 or negative, -0.0, and
    NaN; stride 1 makes the windows overlap.
    """
    rng = np.random.default_rng(stride)
    x = rng.choice([-2.0, -1.0, -0.0, 0.0, 1.0, 3.0], size=(3, 2, 9, 9))
    x[0, 0, :2, :2] = 0.0
    x[0, 1, :2, :2] = -1.0
    x[1, 0, 4, 4] = x[2, 1, 0, 0] = x[2, 1, 0, 1] = np.nan
    x = x.astype(dtype)
    swapped = Sequential(ReLU(), MaxPool2D(2, stride))
    in_order = Sequential(ReLU(), MaxPool2D(2, stride))
    in_order.run_order = list(in_order)
    assert [type(layer) for layer in swapped.run_order] == [MaxPoolReLU]

    y = swapped.forward(x)
    grad_y = rng.standard_normal(y.shape).astype(dtype)
    grad_x = swapped.backward(grad_y)
    np.testing.assert_array_equal(y, in_order.forward(x))        # equal, NaN where NaN
    np.testing.assert_array_equal(grad_x, in_order.backward(grad_y))
    assert np.isnan(y).any() and (grad_x == 0).mean() > 0.5       # the hard cases are there


def test_parameters_and_gradients_live_in_one_array_each() -> None:
    net = seed_network("full", dtype=np.float32)
    params, grads = net.named_params(), net.named_grads()
    np.testing.assert_array_equal(
        net.flat_params, np.concatenate([p.ravel() for p in params.values()]))
    for key, p in params.items():
        assert np.shares_memory(p, net.flat_params) and p.dtype == np.float32, key
    rng = np.random.default_rng(0)
    loss = SoftmaxCrossEntropy()
    loss.forward(net.forward(rng.random((3, 1, 28, 28), np.float32)), np.array([1, 2, 3]))
    net.backward(loss.backward())
    assert net.named_grads()["conv1.weight"] is grads["conv1.weight"]   # written in place
    np.testing.assert_array_equal(
        net.flat_grads, np.concatenate([g.ravel() for g in grads.values()]))
    assert net.flat_grads.any()
    mixed = Sequential(Dense(3, 2, dtype=np.float32), Dense(2, 2, dtype=np.float64))
    assert mixed.flat_params is None and mixed.flat_grads is None   # dtypes differ


def test_same_seed_same_weights() -> None:
    a, b, c = seed_network(seed=1), seed_network(seed=1), seed_network(seed=2)
    for key, value in a.named_params().items():
        np.testing.assert_array_equal(value, b.named_params()[key])
    assert not np.array_equal(a.named_params()["fc1.weight"], c.named_params()["fc1.weight"])


def test_whole_network_matches_finite_differences() -> None:
    """A small seed-shaped net in float64, checked against central differences (no torch)."""
    rng = np.random.default_rng(0)
    net = Sequential(
        Conv2D(1, 2, 3, bias="untied", input_shape=(1, 10, 10), rng=rng), ReLU(),
        MaxPool2D(2),
        Conv2D(2, 2, 3, stride=2, padding=1, rng=rng), ReLU(), Flatten(),
        Dense(8, 5, rng=rng),
    )
    x = rng.standard_normal((2, 1, 10, 10))
    labels = np.array([1, 4])
    loss_fn = SoftmaxCrossEntropy()

    def f() -> float:
        return loss_fn.forward(net.forward(x), labels)

    f()
    grad_x = net.backward(loss_fn.backward())
    grads = {k: v.copy() for k, v in net.named_grads().items()}
    assert_matches_finite_differences(grad_x, numerical_gradient(f, x), "input")
    for key, param in net.named_params().items():
        assert_matches_finite_differences(grads[key], numerical_gradient(f, param), key)


def test_summary_reproduces_the_corrected_seed_tables() -> None:
    """Tables 2 and 4-7 of the seed, with Table 4's pool1 output corrected to 4x12x12."""
    table = seed_network("full").summary((1, 28, 28))
    expected = {
        # layer:  (input,     output,    weight,    bias)
        "conv1": ("1x28x28", "4x24x24", "4x1x5x5", "4x24x24"),   # Table 2
        "pool1": ("4x24x24", "4x12x12", "", ""),                 # Table 4 said 4x24x24
        "conv2": ("4x12x12", "8x8x8", "8x4x5x5", "8x8x8"),       # Table 2
        "pool2": ("8x8x8", "8x4x4", "", ""),                     # Table 4
        "flatten1": ("8x4x4", "128", "", ""),
        "fc1": ("128", "128", "128x128", "128"),                 # Table 6
        "fc2": ("128", "10", "10x128", "10"),                    # Table 6
    }
    for layer, row in expected.items():
        got = tuple(table.loc[layer, ["input", "output", "weight", "bias"]])
        assert got == row, f"{layer}: {got} != {row}"
    assert list(table.index) == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
                                 "flatten1", "fc1", "relu3", "fc2", "identity1"]
    assert table["params"].sum() == 4 * 25 + 4 * 576 + 8 * 100 + 8 * 64 + 128 * 129 + 10 * 129


def test_summary_of_shallow_and_tied() -> None:
    table = seed_network("shallow", bias="tied").summary((1, 28, 28))
    assert table.loc["flatten1", "output"] == "576"
    assert table.loc["fc1", "weight"] == "128x576"
    assert table.loc["conv1", "bias"] == "4"


def test_network_errors() -> None:
    net = seed_network("full")
    with pytest.raises(ShapeError, match=r"conv1 \(Conv2D\): expected input of shape"):
        net.forward(np.zeros((2, 1, 32, 32)))
    with pytest.raises(ShapeError, match=r"conv1 \(Conv2D\): expected float64 input"):
        net.forward(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ShapeError, match=r"identity1 \(Identity\): backward called before"):
        seed_network("full").backward(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="variant must be one of"):
        seed_network("deep")
    with pytest.raises(ValueError, match=r"load_params: fc2\.bias has shape"):
        net.load_params({**net.named_params(), "fc2.bias": np.zeros(11)})


# ---- any protocol layer: a user's class runs, a replaced layer runs, no foreign fusion ----

class CountingReLU:
    """A ReLU of someone's own, not a scratchnet Layer: it counts its calls."""

    kind = "relu"

    def __init__(self) -> None:
        self.params, self.grads, self.calls = {}, {}, []

    def forward(self, x):
        self.calls.append("forward")
        self.mask = x > 0
        return np.where(self.mask, x, 0.0)

    def backward(self, grad_y):
        self.calls.append("backward")
        return grad_y * self.mask


class OwnDense:
    """A dense layer of someone's own that computes with its own reference to the weights."""

    kind = "dense"

    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator) -> None:
        self.W, self.b = rng.standard_normal((n_out, n_in)), np.zeros(n_out)
        self.params = {"weight": self.W, "bias": self.b}
        self.grads = {"weight": np.zeros_like(self.W), "bias": np.zeros_like(self.b)}

    def forward(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def backward(self, grad_y):
        self.grads["weight"][...] = grad_y.T @ self.x
        self.grads["bias"][...] = grad_y.sum(axis=0)
        return grad_y @ self.W


def test_a_users_layers_run_in_a_sequential_and_train() -> None:
    rng = np.random.default_rng(0)
    relu, own = CountingReLU(), OwnDense(6, 3, rng)
    net = Sequential(Dense(4, 6, rng=rng), relu, Identity(), own)
    assert list(net.layers) == ["fc1", "relu1", "identity1", "fc2"]    # named by kind
    assert net.run_order == list(net)                                   # nothing fused
    assert net.flat_params is None       # its own self.W must stay the array it computes with
    x, labels = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    assert_network_matches_twin(net, x, labels, infer=True)              # twin by kind
    assert relu.calls == ["forward", "backward", "forward", "forward"]  # infer, predict
    before = own.W.copy()
    SGD(net, lr=0.1).step()
    np.testing.assert_array_equal(own.W, before - 0.1 * own.grads["weight"])
    with pytest.raises(TypeError, match=r"Sequential: layer 2: expected a layer .* got int without "
                                        r"forward, backward, params, grads"):
        Sequential(Dense(2, 2), 1)


def test_a_layer_replaced_in_net_layers_is_the_one_that_runs() -> None:
    net = seed_network("full", seed=0)
    counting = CountingReLU()
    net.layers["relu3"] = counting
    assert counting.name == "relu3" and counting in net.run_order
    x = digits(np.random.default_rng(1), 2, np.float64)
    logits = net.forward(x)
    net.backward(np.ones_like(logits))
    assert counting.calls == ["forward", "backward"]
    # scratchnet's own layers still run fused and keep flat parameters
    assert [layer.name for layer in net.run_order][:2] == ["conv1", "relu1+pool1"]
    assert np.shares_memory(net.named_params()["fc2.bias"], net.flat_params)
    replaced = Dense(128, 10, rng=np.random.default_rng(2))
    net.layers["fc2"] = replaced                       # a new scratchnet layer: re-gathered
    assert replaced in net.run_order
    assert np.shares_memory(replaced.params["weight"], net.flat_params)
    del net.layers["identity1"]
    assert [layer.name for layer in net.run_order][-1] == "fc2"


class SubclassedReLU(ReLU):
    """A ReLU subclass: it may compute something else, so it is never fused."""

    def forward(self, x):
        self.calls = ["forward"]
        return super().forward(x)


class SubclassedPool(MaxPool2D):
    def forward(self, x):
        self.calls = ["forward"]
        return super().forward(x)


@pytest.mark.parametrize("relu, pool", [(SubclassedReLU, MaxPool2D), (ReLU, SubclassedPool),
                                        (CountingReLU, MaxPool2D)])
def test_only_scratchnets_own_relu_and_pool_are_fused(relu, pool) -> None:
    net = Sequential(relu(), pool(2))
    assert [type(layer) for layer in net.run_order] == [relu, pool]   # as given, not swapped
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    np.testing.assert_array_equal(net.forward(x), Sequential(ReLU(), MaxPool2D(2)).forward(x))
    own = next(layer for layer in net if type(layer) not in (ReLU, MaxPool2D))
    assert own.calls == ["forward"]                                    # its forward ran


# ---- train and eval modes, buffers -----------------------------------------------------

def bn_dropout_network(dtype=np.float64, seed: int = 0) -> Sequential:
    """The seed network's first block with batch norm after the convolution and dropout
    before the last layer: every kind of mode-dependent layer."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2D(1, 3, 3, dtype=dtype, rng=rng), BatchNorm2D(3, dtype=dtype), ReLU(),
        MaxPool2D(2), Flatten(), Dense(27, 8, dtype=dtype, rng=rng),
        Dropout(0.4, rng=rng), Dense(8, 4, dtype=dtype, rng=rng))


def torch_bn_dropout_network(net: Sequential) -> torch.nn.Sequential:
    """``bn_dropout_network``'s torch counterpart, same names, weights and buffers; its
    dropout applies the mask scratchnet's drew."""
    drop = net["dropout1"]

    class HandedDropout(torch.nn.Module):
        def forward(self, x):
            return x * torch.from_numpy(drop.mask) / (1 - drop.p) if self.training else x

    twin = torch.nn.Sequential(OrderedDict([
        ("conv1", torch.nn.Conv2d(1, 3, 3)), ("bn1", torch.nn.BatchNorm2d(3)),
        ("relu1", torch.nn.ReLU()), ("pool1", torch.nn.MaxPool2d(2)),
        ("flatten1", torch.nn.Flatten()), ("fc1", torch.nn.Linear(27, 8)),
        ("dropout1", HandedDropout()), ("fc2", torch.nn.Linear(8, 4))])).double()
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in
                          {**net.named_params(), **net.named_buffers()}.items()})
    return twin


def test_named_buffers_are_keyed_as_torchs_state_dict() -> None:
    net = bn_dropout_network()
    twin = torch_bn_dropout_network(net)
    assert list(net.named_buffers()) == [k for k, _ in twin.named_buffers()] == [
        "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]
    assert net.named_buffers()["bn1.running_var"] is net["bn1"].buffers["running_var"]
    assert {**net.named_params(), **net.named_buffers()}.keys() == twin.state_dict().keys()


def test_training_steps_then_eval_match_torch() -> None:
    """Three training steps (batch statistics, running statistics, dropout masks handed
    over), then eval mode: logits, loss, every gradient and every buffer as torch's."""
    net = bn_dropout_network()
    twin = torch_bn_dropout_network(net)
    loss_fn = SoftmaxCrossEntropy()
    draw = np.random.default_rng(1)
    for step in range(4):
        if step == 3:
            net.eval()
            twin.eval()
        x = draw.standard_normal((5 + step, 1, 8, 8)) + step
        labels = draw.integers(0, 4, len(x))
        logits = net.forward(x)
        loss_fn.forward(logits, labels)
        grad_x = net.backward(loss_fn.backward())
        xt = torch.from_numpy(x).requires_grad_(True)
        t_logits = twin(xt)
        F.cross_entropy(t_logits, torch.from_numpy(labels)).backward()
        check(logits, t_logits.detach().numpy(), np.float64, f"step {step} logits")
        check(grad_x, xt.grad.numpy(), np.float64, f"step {step} input gradient")
        t_params = dict(twin.named_parameters())
        for key, grad in net.named_grads().items():
            check(grad, t_params[key].grad.numpy(), np.float64, f"step {step} {key}")
        t_buffers = dict(twin.named_buffers())
        for key, value in net.named_buffers().items():
            check(value, t_buffers[key].numpy(), np.float64, f"step {step} {key}")
        twin.zero_grad()


def test_the_seed_network_with_batch_norm_and_dropout() -> None:
    """``seed_network("full-bn-dropout")``: the full network's layers and initial weights,
    batch norm after each convolution, dropout before fc2; a training step (the twin's
    dropout applying scratchnet's mask) and then eval mode agree with its twin (float64
    rule, 1e-12)."""
    net, full = seed_network("full-bn-dropout", seed=3), seed_network("full", seed=3)
    assert list(net.layers) == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2",
                                "pool2", "flatten1", "fc1", "relu3", "dropout1", "fc2",
                                "identity1"]
    assert net["dropout1"].p == DROPOUT_P and net["bn2"].num_features == 8
    for key, value in full.named_params().items():
        np.testing.assert_array_equal(net.named_params()[key], value)
    rng = np.random.default_rng(3)
    x, labels = digits(rng, 6, np.float64), rng.integers(0, 10, 6)
    assert_network_matches_twin(net, x, labels)
    assert not net["dropout1"].mask.all()             # it dropped something
    twin = to_torch(net).eval()                        # the buffers after that step
    check(net.infer(x), twin(torch.from_numpy(x)).detach().numpy(), np.float64, "eval logits")


def test_train_and_eval_set_every_layers_mode() -> None:
    net = bn_dropout_network()
    assert net.training and all(layer.training for layer in net)
    assert net.eval() is net and not net.training
    assert not any(layer.training for layer in net)
    net.train()
    assert net.training and all(layer.training for layer in net)


def test_infer_runs_in_eval_mode_and_restores_the_modes() -> None:
    """infer is inference, whatever the mode: the running statistics and no dropout, in
    chunks (only in eval mode is an example's output its own), nothing updated."""
    net = bn_dropout_network()
    net.forward(np.random.default_rng(2).standard_normal((6, 1, 8, 8)))  # running stats move
    buffers = {k: v.copy() for k, v in net.named_buffers().items()}
    mask = net["dropout1"].mask
    x = np.random.default_rng(3).standard_normal((3 * infer_chunk(np.float64) + 5, 1, 8, 8))
    logits = net.infer(x)
    assert net.training and all(layer.training for layer in net)
    for key, value in net.named_buffers().items():
        np.testing.assert_array_equal(value, buffers[key], err_msg=key)
    assert net["dropout1"].mask is mask
    np.testing.assert_array_equal(net.predict(x), logits.argmax(axis=1))
    twin = torch_bn_dropout_network(net).eval()
    check(logits, twin(torch.from_numpy(x)).detach().numpy(), np.float64, "infer vs eval twin")
    np.testing.assert_array_equal(net.eval().forward(x), logits)


def test_load_buffers() -> None:
    net, other = bn_dropout_network(), bn_dropout_network()
    other.forward(np.random.default_rng(4).standard_normal((4, 1, 8, 8)))
    net.load_buffers(other.named_buffers())
    for key, value in other.named_buffers().items():
        np.testing.assert_array_equal(net.named_buffers()[key], value)
    with pytest.raises(ValueError, match=r"^load_buffers: keys differ: missing "
                                         r"\['bn1.num_batches_tracked'\], unexpected \[\]$"):
        net.load_buffers({k: v for k, v in other.named_buffers().items()
                          if "tracked" not in k})
    assert seed_network().named_buffers() == {}
