"""scratchnet.naive: the fast layers equal the naive loops, and the loops equal PyTorch.

The fast layers are compared with the naive functions on the random configurations the
torch tests draw (tests/strategies.py; fewer examples, as the loops are slow), for every
quantity with a random upstream gradient; the naive functions are compared with PyTorch on
a smaller set of named cases. Tolerances are the project's one rule
(reference/agreement.py, float64: 1e-12): the naive loops and the fast kernels add the same
products in other orders, which changes the sums by a few ulps (about 1e-15), while a wrong
index or a lost term is off by far more than 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.agreement import assert_agree
from scratchnet import (
    AvgPool2D,
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Identity,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    naive,
)
from scratchnet.layers import Layer, MaxPoolReLU
from tests.layers.test_conv import make_conv, torch_conv
from tests.layers.test_dense import torch_linear
from tests.layers.test_pool import torch_pool
from tests.strategies import (
    ConvCase,
    PoolCase,
    avgpool_cases,
    conv_cases,
    norm_cases,
    pool_cases,
    random_input,
    seeds,
)
from tests.torch_check import (
    assert_all_agree,
    layer_and_naive,
    loss_and_torch,
    naive_and_torch,
)

F64 = np.float64
rng = np.random.default_rng(0)   # for the named cases, drawn once at import


def batch_last(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A random ``(N, C, H, W)`` array laid out batch last: a non-contiguous view."""
    N, C, H, W = shape
    return np.random.default_rng(seed).standard_normal((C, H, W, N)).transpose(3, 0, 1, 2)


# ---- convolution, eqs. (1)-(4) ---------------------------------------------------------

def naive_conv(conv: Conv2D, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    w, s, p = conv.params["weight"], conv.stride, conv.padding
    quantities = {
        "output": naive.conv_forward(x, w, conv.params.get("bias"), s, p),           # (1)
        "grad input": naive.conv_input_grad(grad_y, w, x.shape, s, p),              # (4)
        "grad weight": naive.conv_weight_grad(x, grad_y, conv.kernel_size, s, p),   # (2)
    }
    if conv.bias_mode is not None:
        quantities["grad bias"] = naive.conv_bias_grad(grad_y, conv.bias_mode == "tied")  # (3)
    return quantities


@settings(max_examples=50, deadline=None)
@given(case=conv_cases(), seed=seeds)
def test_conv_equals_naive(case: ConvCase, seed: int) -> None:
    x = random_input(np.random.default_rng(seed), case.input_shape, F64)
    conv = make_conv(case, F64, seed)
    assert_all_agree(layer_and_naive(conv, x, naive_conv, seed), F64, f"{conv!r} vs naive")


CONV_CASES = {
    "the seed's conv1, one image": ConvCase(1, 1, 4, 5, 1, 0, 28, 28, "untied"),
    "the seed's conv2": ConvCase(2, 4, 8, 5, 1, 0, 12, 12, "untied"),
    "stride 2, padding 1, odd and even sizes": ConvCase(2, 3, 2, 3, 2, 1, 7, 8, "tied"),
    "stride 3, padding 2, rows left over": ConvCase(2, 2, 3, 4, 3, 2, 9, 6, "untied"),
    "no bias, input exactly the kernel": ConvCase(1, 1, 1, 5, 1, 0, 5, 5, None),
    "empty batch": ConvCase(0, 2, 3, 3, 1, 1, 5, 4, None),  # (with a bias, see the report)
}


@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_naive_conv_matches_torch(case: ConvCase) -> None:
    x = random_input(np.random.default_rng(1), case.input_shape, F64)
    pairs = naive_and_torch(make_conv(case, F64), x, naive_conv, torch_conv(case))
    assert_all_agree(pairs, F64, "naive conv vs torch")


def test_conv_takes_a_batch_last_view() -> None:
    case = ConvCase(3, 2, 2, 3, 2, 1, 6, 7, "tied")
    x = batch_last(case.input_shape)
    assert not x.flags.c_contiguous
    conv = make_conv(case, F64)
    assert_all_agree(layer_and_naive(conv, x, naive_conv), F64, f"{conv!r} vs naive")
    assert_all_agree(naive_and_torch(conv, x, naive_conv, torch_conv(case)), F64, "vs torch")


def test_the_seeds_forms_of_eqs_2_and_4() -> None:
    """The seed writes both gradients as correlations, the ``(*)`` of eq. (1): (2) the input
    with the output gradient as kernel, the batch taking the place of the channels; (4) the
    output gradient padded "full" with the kernels rotated by 180 degrees (stride 1)."""
    draw = np.random.default_rng(2)
    x, weight = draw.standard_normal((3, 2, 7, 6)), draw.standard_normal((4, 2, 3, 2))
    grad_y = draw.standard_normal((3, 4, 5, 5))
    channels_first = x.transpose(1, 0, 2, 3), grad_y.transpose(1, 0, 2, 3)   # (C, N, ., .)
    seed_2 = naive.conv_forward(*channels_first).transpose(1, 0, 2, 3)
    assert_agree(naive.conv_weight_grad(x, grad_y, (3, 2)), seed_2, F64, "eq. (2)")
    full = np.pad(grad_y, ((0, 0), (0, 0), (2, 2), (1, 1)))
    rotated = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)                # R180(K_ij)
    seed_4 = naive.conv_forward(full, rotated)
    assert_agree(naive.conv_input_grad(grad_y, weight, x.shape), seed_4, F64, "eq. (4)")


# ---- max-pooling, eqs. (5)-(6) ---------------------------------------------------------

def naive_pool(pool: MaxPool2D, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    k, s = pool.kernel_size, pool.stride
    return {"output": naive.maxpool_forward(x, k, s),                      # (5)
            "grad input": naive.maxpool_backward(x, grad_y, k, s)}          # (6)


def naive_pool_relu(layer: MaxPoolReLU, x: np.ndarray,
                    grad_y: np.ndarray) -> dict[str, np.ndarray]:
    """The fused layer as the ReLU's equations (11)-(12) after the pooling's (5)-(6)."""
    k, s = layer.kernel_size, layer.stride
    pooled = naive.maxpool_forward(x, k, s)
    return {"output": naive.relu_forward(pooled),
            "grad input": naive.maxpool_backward(x, naive.relu_backward(pooled, grad_y), k, s)}


@settings(max_examples=50, deadline=None)
@given(case=pool_cases(), seed=seeds, fused=st.booleans())
def test_pool_equals_naive(case: PoolCase, seed: int, fused: bool) -> None:
    x = random_input(np.random.default_rng(seed), case.shape, F64, ties=case.ties)
    pool = MaxPool2D(case.kernel, case.stride)
    layer, naive_fn = (MaxPoolReLU(ReLU(), pool), naive_pool_relu) if fused else (pool, naive_pool)
    assert_all_agree(layer_and_naive(layer, x, naive_fn, seed), F64, f"{layer!r} vs naive")


def zeros_and_strokes(shape: tuple[int, ...]) -> np.ndarray:
    """Mostly exact zeros (a digit's background after a ReLU): windows full of ties."""
    return np.where(rng.random(shape) < 0.15, rng.random(shape), 0.0)


POOL_CASES = {   # name: (x, k, stride)
    "the seed's pool1 on zero backgrounds": (zeros_and_strokes((2, 4, 24, 24)), 2, 2),
    "overlapping ties": (np.full((1, 2, 7, 7), 2.0), 3, 2),
    "overlapping, stride 1": (zeros_and_strokes((2, 2, 9, 9)), 3, 1),
    "odd sizes floored": (rng.standard_normal((2, 2, 7, 9)), 2, 2),
    "stride beyond the window": (rng.standard_normal((1, 2, 11, 10)), 2, 3),
    "NaN: the last wins": (np.array([[[[1.0, np.nan, 2.0, 0.0], [np.nan, 0.0, 1.0, 3.0]]]]),
                           2, 2),
    "batch-last view": (batch_last((3, 2, 6, 5)), 2, 2),
    "empty batch": (np.zeros((0, 2, 4, 4)), 2, 2),
}


@pytest.mark.parametrize("x, k, s", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_naive_pool_matches_torch_and_the_layer(x: np.ndarray, k: int, s: int) -> None:
    pool = MaxPool2D(k, s)
    assert_all_agree(naive_and_torch(pool, x, naive_pool, torch_pool(k, s)), F64, "vs torch")
    assert_all_agree(layer_and_naive(pool, x, naive_pool), F64, f"{pool!r} vs naive")


def test_the_cache_marks_one_maximum() -> None:
    """The seed's Cache marks every maximum; the gradient goes to the first one only."""
    np.testing.assert_array_equal(naive.pool_cache(np.array([[1.0, 3.0], [3.0, 3.0]])),
                                  [[0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(naive.pool_cache(np.zeros((2, 2))), [[1.0, 0.0], [0.0, 0.0]])


# ---- fully connected, eqs. (7)-(10) ----------------------------------------------------

def naive_dense(dense: Dense, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    w, b = dense.params["weight"], dense.params["bias"]
    return {"output": naive.dense_forward(x, w, b),                 # (7)
            "grad input": naive.dense_input_grad(grad_y, w),        # (10)
            "grad weight": naive.dense_weight_grad(x, grad_y),      # (8)
            "grad bias": naive.dense_bias_grad(grad_y)}             # (9)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(0, 8), n_in=st.integers(1, 200), n_out=st.integers(1, 40), seed=seeds)
def test_dense_equals_naive(batch: int, n_in: int, n_out: int, seed: int) -> None:
    x = random_input(np.random.default_rng(seed), (batch, n_in), F64)
    dense = Dense(n_in, n_out, rng=np.random.default_rng(seed))
    assert_all_agree(layer_and_naive(dense, x, naive_dense, seed), F64, f"{dense!r} vs naive")


@pytest.mark.parametrize("batch, n_in, n_out", [(1, 128, 128), (4, 128, 10), (0, 5, 3)])
def test_naive_dense_matches_torch(batch: int, n_in: int, n_out: int) -> None:
    x = np.random.default_rng(batch).standard_normal((batch, n_in))
    dense = Dense(n_in, n_out, rng=np.random.default_rng(1))
    assert_all_agree(naive_and_torch(dense, x, naive_dense, torch_linear), F64, "vs torch")


# ---- activations, eqs. (11)-(14) -------------------------------------------------------

def naive_relu(_: ReLU, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"output": naive.relu_forward(x), "grad input": naive.relu_backward(x, grad_y)}


def naive_identity(_: Identity, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    return {"output": naive.identity_forward(x), "grad input": naive.identity_backward(grad_y)}


ACTIVATION_INPUTS = {
    "normal 4-D": rng.standard_normal((3, 4, 5, 6)),
    "exact zeros": np.array([[0.0, -0.0, 1.0, -1.0, 0.0], [0.3, 0.0, -0.7, 0.0, 2.0]]),
    "NaN and inf": np.array([[np.nan, np.inf, -np.inf, 2.0]]),
    "batch-last view": batch_last((3, 4, 5, 6)),
    "one example": rng.standard_normal((1, 10)),
    "empty batch": np.zeros((0, 10)),
}


@pytest.mark.parametrize("x", ACTIVATION_INPUTS.values(), ids=ACTIVATION_INPUTS.keys())
@pytest.mark.parametrize("layer, naive_fn, torch_fn", [
    (ReLU(), naive_relu, lambda x, p: F.relu(x)),
    (Identity(), naive_identity, lambda x, p: x * 1),
], ids=["relu", "identity"])
def test_naive_activations(x: np.ndarray, layer: Layer, naive_fn, torch_fn) -> None:
    assert_all_agree(naive_and_torch(layer, x, naive_fn, torch_fn), F64, "vs torch")
    assert_all_agree(layer_and_naive(layer, x, naive_fn), F64, f"{layer!r} vs naive")


# ---- softmax and cross-entropy, eqs. (15)-(17) -----------------------------------------

class NaiveSoftmaxCrossEntropy:
    """SoftmaxCrossEntropy's forward and backward as the naive eqs. (15)-(17)."""

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        self._logits, self._labels = logits, labels
        return naive.cross_entropy(naive.log_softmax(logits), labels)

    def backward(self) -> np.ndarray:
        return naive.cross_entropy_grad(naive.softmax(self._logits), self._labels)


LOSS_CASES = {
    "normal": (rng.standard_normal((8, 10)), rng.integers(0, 10, 8)),
    "one example": (rng.standard_normal((1, 10)), np.array([3])),
    "huge logits": (rng.choice([1e4, -1e4, 0.0], (6, 10)), rng.integers(0, 10, 6)),
    "all equal rows": (np.full((4, 10), 7.5), np.array([0, 9, 3, 3])),
    "confident and wrong": (np.eye(10)[:5] * 1e4, np.arange(5) + 1),
}


@pytest.mark.parametrize("logits, labels", LOSS_CASES.values(), ids=LOSS_CASES.keys())
def test_naive_loss_matches_torch_and_the_loss(logits: np.ndarray, labels: np.ndarray) -> None:
    naive_vs_torch = loss_and_torch(NaiveSoftmaxCrossEntropy(), logits, labels)
    fast_vs_torch = loss_and_torch(SoftmaxCrossEntropy(), logits, labels)
    assert_all_agree(naive_vs_torch, F64, "naive vs torch")
    fast_vs_naive = {name: (fast, naive_vs_torch[name][0])
                     for name, (fast, _) in fast_vs_torch.items()}
    assert_all_agree(fast_vs_naive, F64, "SoftmaxCrossEntropy vs naive")


def test_the_loss_has_its_minus_sign() -> None:
    """The seed's (16) lacks the minus; the loss of uniform predictions is +ln(10)."""
    loss = naive.cross_entropy(naive.log_softmax(np.zeros((3, 10))), np.array([1, 2, 3]))
    assert loss == pytest.approx(np.log(10), rel=1e-15)


# ---- the layers courses assign next (PyTorch's formulas) -------------------------------

def naive_dropout(layer: Dropout, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    """Under the mask the layer's forward drew (``layer_and_naive`` runs it first)."""
    return {"output": naive.dropout_forward(x, layer.mask, layer.p),
            "grad input": naive.dropout_backward(grad_y, layer.mask, layer.p)}


def naive_batchnorm(layer, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    w, b, eps = layer.params["weight"], layer.params["bias"], layer.eps
    if layer.training:
        y = naive.batchnorm_forward(x, w, b, eps)
        grad_x = naive.batchnorm_input_grad(x, w, grad_y, eps)
        x_hat = naive.batchnorm_forward(x, np.ones_like(w), np.zeros_like(b), eps)
    else:
        rm, rv = layer.buffers["running_mean"], layer.buffers["running_var"]
        y = naive.batchnorm_eval_forward(x, rm, rv, w, b, eps)
        grad_x = naive.batchnorm_eval_input_grad(rv, w, grad_y, eps)
        x_hat = naive.batchnorm_eval_forward(x, rm, rv, np.ones_like(w), np.zeros_like(b), eps)
    return {"output": y, "grad input": grad_x,
            "grad weight": naive.batchnorm_weight_grad(x_hat, grad_y),
            "grad bias": naive.batchnorm_bias_grad(grad_y)}


def naive_layernorm(layer: LayerNorm, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    w, b, eps = layer.params["weight"], layer.params["bias"], layer.eps
    shape = layer.normalized_shape
    return {"output": naive.layernorm_forward(x, w, b, eps),
            "grad input": naive.layernorm_input_grad(x, w, grad_y, eps),
            "grad weight": naive.layernorm_weight_grad(naive.layernorm_x_hat(x, shape, eps),
                                                       grad_y, shape),
            "grad bias": naive.layernorm_bias_grad(grad_y, shape)}


def naive_avgpool(layer: AvgPool2D, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    k, s, p = layer.kernel_size, layer.stride, layer.padding
    return {"output": naive.avgpool_forward(x, k, s, p),
            "grad input": naive.avgpool_backward(grad_y, x.shape, k, s, p)}


def naive_sigmoid(_: Sigmoid, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    y = naive.sigmoid_forward(x)
    return {"output": y, "grad input": naive.sigmoid_backward(y, grad_y)}


def naive_tanh(_: Tanh, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    y = naive.tanh_forward(x)
    return {"output": y, "grad input": naive.tanh_backward(y, grad_y)}


def naive_leaky_relu(layer: LeakyReLU, x: np.ndarray, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    a = layer.negative_slope
    return {"output": naive.leaky_relu_forward(x, a),
            "grad input": naive.leaky_relu_backward(x, grad_y, a)}


def with_weights(layer: Layer, seed: int = 0) -> Layer:
    """``layer`` with random weight and bias (and running statistics, if it keeps them)."""
    draw = np.random.default_rng(seed)
    for value in layer.params.values():
        value[...] = draw.standard_normal(value.shape)
    if "running_var" in layer.buffers:
        layer.buffers["running_mean"][...] = draw.standard_normal(layer.num_features)
        layer.buffers["running_var"][...] = draw.uniform(0.1, 3.0, layer.num_features)
    return layer


NEW_LAYER_CASES = {   # name: (layer factory, x, naive function, torch function factory)
    "dropout p=0.3": (lambda: Dropout(0.3, rng=np.random.default_rng(1)),
                      rng.standard_normal((3, 4, 5)), naive_dropout,
                      lambda layer: lambda x, p: x * torch.from_numpy(layer.mask) / 0.7),
    "dropout p=1": (lambda: Dropout(1.0), rng.standard_normal((2, 5)), naive_dropout,
                    lambda layer: lambda x, p: F.dropout(x, 1.0)),
    "batchnorm1d training": (lambda: with_weights(BatchNorm1D(4)), rng.standard_normal((5, 4)),
                             naive_batchnorm, lambda layer: lambda x, p: F.batch_norm(
                                 x, None, None, p["weight"], p["bias"], training=True)),
    "batchnorm2d training, one example": (
        lambda: with_weights(BatchNorm2D(3)), rng.standard_normal((1, 3, 3, 5)), naive_batchnorm,
        lambda layer: lambda x, p: F.batch_norm(x, None, None, p["weight"], p["bias"],
                                                training=True)),
    "batchnorm2d eval, batch-last view": (
        lambda: with_weights(BatchNorm2D(2)).eval(), batch_last((3, 2, 4, 5)), naive_batchnorm,
        lambda layer: lambda x, p: F.batch_norm(
            x, torch.from_numpy(layer.buffers["running_mean"].copy()),
            torch.from_numpy(layer.buffers["running_var"].copy()), p["weight"], p["bias"])),
    "layernorm (C, H, W)": (lambda: with_weights(LayerNorm((2, 3, 4))),
                            rng.standard_normal((3, 2, 3, 4)), naive_layernorm,
                            lambda layer: lambda x, p: F.layer_norm(x, (2, 3, 4), p["weight"],
                                                                    p["bias"])),
    "layernorm, empty batch": (lambda: with_weights(LayerNorm(5)), np.zeros((0, 5)),
                               naive_layernorm, lambda layer: lambda x, p: F.layer_norm(
                                   x, (5,), p["weight"], p["bias"])),
    "avgpool 3x2, stride (1, 2), padding (1, 0)": (
        lambda: AvgPool2D((3, 2), (1, 2), (1, 0)), rng.standard_normal((2, 2, 6, 7)),
        naive_avgpool, lambda layer: lambda x, p: F.avg_pool2d(x, (3, 2), (1, 2), (1, 0))),
    "avgpool 3, stride 2, padding 1, odd": (
        lambda: AvgPool2D(3, 2, 1), rng.standard_normal((1, 3, 7, 5)), naive_avgpool,
        lambda layer: lambda x, p: F.avg_pool2d(x, 3, 2, 1)),
    "sigmoid with +-1000": (Sigmoid, np.array([[1000.0, -1000.0, 0.0, 3.0, -3.0, np.nan]]),
                            naive_sigmoid, lambda layer: lambda x, p: torch.sigmoid(x)),
    "tanh with +-1000": (Tanh, np.array([[1000.0, -1000.0, 0.0, 0.5, -2.0]]), naive_tanh,
                         lambda layer: lambda x, p: torch.tanh(x)),
    "leaky relu, zeros": (lambda: LeakyReLU(0.2), ACTIVATION_INPUTS["exact zeros"],
                          naive_leaky_relu, lambda layer: lambda x, p: F.leaky_relu(x, 0.2)),
    "leaky relu, 4-D": (LeakyReLU, ACTIVATION_INPUTS["normal 4-D"], naive_leaky_relu,
                        lambda layer: lambda x, p: F.leaky_relu(x, 0.01)),
}


@pytest.mark.parametrize("make, x, naive_fn, torch_fn_of", NEW_LAYER_CASES.values(),
                         ids=NEW_LAYER_CASES.keys())
def test_naive_new_layers_match_torch_and_the_layer(make, x, naive_fn, torch_fn_of) -> None:
    layer = make()
    assert_all_agree(naive_and_torch(layer, x, naive_fn, torch_fn_of(layer)), F64, "vs torch")
    layer = make()
    assert_all_agree(layer_and_naive(layer, x, naive_fn), F64, f"{layer!r} vs naive")


@settings(max_examples=25, deadline=None)
@given(case=norm_cases(), seed=seeds, training=st.booleans())
def test_batchnorm_equals_naive(case, seed: int, training: bool) -> None:
    x = random_input(np.random.default_rng(seed), case.shape, F64)
    cls = BatchNorm2D if len(case.shape) == 4 else BatchNorm1D
    layer = with_weights(cls(case.channels), seed).train(training)
    assert_all_agree(layer_and_naive(layer, x, naive_batchnorm, seed), F64, f"{layer!r} vs naive")


@settings(max_examples=25, deadline=None)
@given(case=avgpool_cases(), seed=seeds)
def test_avgpool_equals_naive(case, seed: int) -> None:
    x = random_input(np.random.default_rng(seed), case.shape, F64)
    layer = AvgPool2D(case.kernel, case.stride, case.padding)
    assert_all_agree(layer_and_naive(layer, x, naive_avgpool, seed), F64, f"{layer!r} vs naive")


def test_naive_running_statistics_match_the_layer() -> None:
    layer = with_weights(BatchNorm2D(3))
    before = {k: v.copy() for k, v in layer.buffers.items()}
    x = rng.standard_normal((2, 3, 4, 3)) + 5
    layer.forward(x)
    mean, var = naive.batchnorm_running_stats(x, before["running_mean"], before["running_var"],
                                              0.1)
    assert_agree(layer.buffers["running_mean"], mean, F64, "running mean")
    assert_agree(layer.buffers["running_var"], var, F64, "running var")
