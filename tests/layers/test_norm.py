"""BatchNorm1D, BatchNorm2D and LayerNorm against torch: training mode (batch statistics,
the full backward through the mean and variance), eval mode (running statistics), the
running statistics over several batches against torch's modules, a large mean with a tiny
variance against the exact value, and their errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference.agreement import assert_agree
from scratchnet.layers import BatchNorm1D, BatchNorm2D, LayerNorm, ShapeError
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.strategies import (
    DTYPES,
    FLOAT32_NORM_VALUES,
    layernorm_cases,
    norm_cases,
    random_input,
    seeds,
    spread_enough,
)
from tests.torch_check import assert_layer_matches_torch, check

rng = np.random.default_rng(0)
F64, F32 = np.float64, np.float32
#: Per dtype, the random cases: float32 normalises at least FLOAT32_NORM_VALUES values
#: together (tests/strategies.py says why); float64 any number.
DTYPE_CASES = [(F64, 2), (F32, FLOAT32_NORM_VALUES)]


def batchnorm(shape: tuple[int, ...], dtype=F64, seed: int = 0, **kwargs):
    """A BatchNorm1D or BatchNorm2D for inputs of ``shape``, with random weight and bias
    (PyTorch's initial 1 and 0 would hide a mix-up of the two) and, for eval mode, random
    running statistics."""
    layer = (BatchNorm2D if len(shape) == 4 else BatchNorm1D)(shape[1], dtype=dtype, **kwargs)
    draw = np.random.default_rng(seed)
    for arrays, key, value in [
        (layer.params, "weight", draw.standard_normal(shape[1])),
        (layer.params, "bias", draw.standard_normal(shape[1])),
        (layer.buffers, "running_mean", draw.standard_normal(shape[1])),
        (layer.buffers, "running_var", draw.uniform(0.1, 3.0, shape[1])),
    ]:
        arrays[key][...] = value
    return layer


def torch_batchnorm(layer, training: bool):
    """torch's F.batch_norm with ``layer``'s eps: the batch's statistics in training (no
    running statistics updated), the layer's running statistics in eval mode."""
    running = [torch.from_numpy(layer.buffers[k].copy()) for k in ("running_mean", "running_var")]

    def fn(x: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
        stats = (None, None) if training else running
        return F.batch_norm(x, *stats, p["weight"], p["bias"], training=training, eps=layer.eps)
    return fn


# ---- batch norm: training and eval mode against F.batch_norm --------------------------

@pytest.mark.parametrize("dtype, min_values", DTYPE_CASES, ids=["float64", "float32"])
@settings(max_examples=50, deadline=None)
@given(data=st.data(), seed=seeds)
def test_batchnorm_training_matches_torch(dtype, min_values: int, data, seed: int) -> None:
    case = data.draw(norm_cases(min_values))
    layer = batchnorm(case.shape, dtype, seed)
    x = random_input(np.random.default_rng(seed), case.shape, dtype)
    channel_groups = (0, *range(2, x.ndim))
    assume(dtype == F64 or spread_enough(x, channel_groups))   # FLOAT32_NORM_MIN_STD says why
    assert_layer_matches_torch(layer, x, torch_batchnorm(layer, training=True), seed)


@settings(max_examples=60, deadline=None)
@given(case=norm_cases(), dtype=st.sampled_from(DTYPES), seed=seeds)
def test_batchnorm_eval_matches_torch(case, dtype, seed: int) -> None:
    """Eval mode is an affine map: no cancellation, any size in both dtypes."""
    layer = batchnorm(case.shape, dtype, seed).eval()
    x = random_input(np.random.default_rng(seed), case.shape, dtype)
    assert_layer_matches_torch(layer, x, torch_batchnorm(layer, training=False), seed)


BATCHNORM_CASES = {   # name: (x, training)
    "one example, 2x3 positions": (rng.standard_normal((1, 3, 2, 3)), True),
    "four examples of one feature": (rng.standard_normal((4, 1)), True),
    "(N, C, L)": (rng.standard_normal((3, 4, 5)), True),
    "batch-last view": (rng.standard_normal((3, 5, 4, 6)).transpose(3, 0, 1, 2), True),
    "ties": (rng.choice([0.0, 1.0], (5, 2, 3, 3)), True),
    "empty batch, eval": (np.zeros((0, 3, 4, 4)), False),
    "empty batch, training": (np.zeros((0, 3, 4, 4)), True),
    "one example, eval": (rng.standard_normal((1, 6)), False),
}


@pytest.mark.parametrize("x, training", BATCHNORM_CASES.values(), ids=BATCHNORM_CASES.keys())
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_edge_cases_match_torch(x: np.ndarray, training: bool, dtype) -> None:
    layer = batchnorm(x.shape, dtype).train(training)
    assert_layer_matches_torch(layer, x.astype(dtype), torch_batchnorm(layer, training))


def test_batchnorm_of_constant_channels_is_its_bias() -> None:
    """No variance: x - mean = 0 exactly, so y = bias in both dtypes. (PyTorch's x a + b
    form leaves rounding of |x| / sqrt(eps) there: float64 agrees at 1e-12, float32 is
    held to the exact value.)"""
    x = np.full((4, 3, 2, 2), 2.5)
    layer = batchnorm(x.shape)
    assert_layer_matches_torch(layer, x, torch_batchnorm(layer, True))
    for dtype in DTYPES:
        layer = batchnorm(x.shape, dtype)
        np.testing.assert_array_equal(layer.forward(x.astype(dtype)),
                                      np.broadcast_to(layer.params["bias"][:, None, None], x.shape))


def test_batchnorm_of_two_values_per_channel() -> None:
    """The fewest values training takes (float64: see FLOAT32_NORM_VALUES)."""
    layer = batchnorm((2, 3))
    assert_layer_matches_torch(layer, rng.standard_normal((2, 3)), torch_batchnorm(layer, True))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4, 4)])
def test_an_empty_training_batch_is_counted_but_changes_no_statistic(shape) -> None:
    """As PyTorch: an empty output, zero parameter gradients, the running statistics as
    they were, and one more in num_batches_tracked; and quietly, as PyTorch (a warning is
    an error here): nothing is divided by the batch's M = 0 values per channel."""
    layer = batchnorm(shape)
    twin = torch_module(layer)
    before = {k: v.copy() for k, v in layer.buffers.items()}
    assert_layer_matches_torch(layer, np.zeros(shape), torch_batchnorm(layer, training=True))
    for _ in range(2):   # the helper runs the layer twice: forward, then infer
        twin(torch.zeros(shape, dtype=torch.float64))
    for key, value in layer.buffers.items():
        np.testing.assert_array_equal(value, twin.state_dict()[key].numpy(), err_msg=key)
    np.testing.assert_array_equal(layer.buffers["running_mean"], before["running_mean"])
    assert int(layer.buffers["num_batches_tracked"]) == 2


# ---- running statistics: several training batches, then eval, against torch's module ---

def torch_module(layer) -> torch.nn.Module:
    """torch's BatchNorm1d / BatchNorm2d with ``layer``'s settings, weights and buffers."""
    cls = torch.nn.BatchNorm2d if isinstance(layer, BatchNorm2D) else torch.nn.BatchNorm1d
    twin = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum,
               dtype=torch.from_numpy(layer.params["weight"]).dtype)
    twin.load_state_dict({k: torch.from_numpy(v.copy())
                          for k, v in {**layer.params, **layer.buffers}.items()})
    return twin


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 7), (4, 3, 5, 6), (1, 2, 3, 3)])
@pytest.mark.parametrize("momentum", [0.1, 0.7, None, 0.0, 1.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_running_statistics_over_several_batches_then_eval(shape, momentum, dtype) -> None:
    """Five training batches of other sizes and growing offsets (a running mean that has
    to follow), each compared with torch's module: output, every gradient and the buffers
    (the running variance from the unbiased variance); then eval mode on a new batch.
    Momentum's bounds are taken, as torch takes them: 0 keeps the initial statistics, 1
    keeps the last batch's."""
    layer = batchnorm(shape, dtype, momentum=momentum)
    twin = torch_module(layer)
    draw = np.random.default_rng(1)
    for step in range(5):
        batch = (shape[0] + step % 3, *shape[1:])
        x = (draw.standard_normal(batch) * (1 + step) + 3 * step).astype(dtype)
        compare_with_module(layer, twin, x, f"step {step}")
    twin.eval()
    layer.eval()
    compare_with_module(layer, twin, draw.standard_normal(shape).astype(dtype), "eval")
    assert int(layer.buffers["num_batches_tracked"]) == 5


def compare_with_module(layer, twin: torch.nn.Module, x: np.ndarray, what: str) -> None:
    """One forward and backward (random upstream gradient) of ``layer`` and of the torch
    module ``twin``: output, input and parameter gradients, and every buffer after it."""
    grad_y = np.random.default_rng(len(x)).standard_normal(x.shape).astype(x.dtype)
    y = layer.forward(x)
    grad_x = layer.backward(grad_y)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    twin.zero_grad()
    yt = twin(xt)
    yt.backward(torch.from_numpy(grad_y))
    check(y, yt.detach().numpy(), x.dtype, f"{layer!r} {what} output")
    check(grad_x, xt.grad.numpy(), x.dtype, f"{layer!r} {what} input gradient")
    for key, p in twin.named_parameters():
        check(layer.grads[key], p.grad.numpy(), x.dtype, f"{layer!r} {what} {key} gradient")
    for key, b in twin.named_buffers():
        ours = layer.buffers[key]
        assert ours.dtype == b.numpy().dtype, key
        check(ours, b.numpy(), x.dtype, f"{layer!r} {what} {key}")


def test_running_variance_is_the_unbiased_one() -> None:
    """Two values per channel, 0 and 2: the biased variance is 1, the unbiased 2, and the
    running variance moves a tenth of the way from 1 to 2; the output uses the biased."""
    layer = BatchNorm1D(1)
    y = layer.forward(np.array([[0.0], [2.0]]))
    np.testing.assert_allclose(y, [[-1 / np.sqrt(1 + 1e-5)], [1 / np.sqrt(1 + 1e-5)]], rtol=1e-15)
    np.testing.assert_allclose(layer.buffers["running_var"], [0.9 * 1 + 0.1 * 2], rtol=1e-15)
    np.testing.assert_allclose(layer.buffers["running_mean"], [0.1], rtol=1e-15)


def test_the_buffers_are_updated_in_place() -> None:
    layer = BatchNorm2D(2)
    arrays = dict(layer.buffers)
    layer.forward(rng.standard_normal((3, 2, 2, 2)))
    assert all(layer.buffers[k] is v for k, v in arrays.items())
    assert list(layer.buffers) == ["running_mean", "running_var", "num_batches_tracked"]
    assert layer.buffers["num_batches_tracked"].dtype == np.int64


# ---- the training backward is the full one ---------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4, 3)])
def test_batchnorm_training_backward_matches_finite_differences(shape) -> None:
    """Through the batch's mean and variance: a backward that treats them as constants
    (the eval-mode map) is off by far more than the finite differences' error."""
    layer = batchnorm(shape)
    x = rng.standard_normal(shape)
    grad_y = rng.standard_normal(shape)
    layer.forward(x)
    grad_x = layer.backward(grad_y)
    numeric = numerical_gradient(lambda: float((layer.forward(x) * grad_y).sum()), x)
    assert_matches_finite_differences(grad_x, numeric, f"{layer!r} grad x")


# ---- a large mean and a tiny variance ---------------------------------------------------

def exact_normalized(x: np.ndarray, axes: tuple[int, ...], eps: float, weight: np.ndarray,
                     bias: np.ndarray) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` in extended precision (64-bit
    mantissa), rounded to float64 at the end: the exact value, to float64's precision."""
    xl = x.astype(np.longdouble)
    mean = xl.mean(axis=axes, keepdims=True)
    var = ((xl - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (xl - mean) / np.sqrt(var + np.longdouble(eps)) * weight + bias
    return y.astype(np.float64)


def offset_grid(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``1e4 + k 2^-20`` for integers ``|k| <= 200``: a mean of 1e4 and a variance near
    1e-8. On this grid every sum of a batch's values is exact in float64 (and the batch
    sizes below are powers of two, so the mean is exact too): any gap to the exact output
    is the layer's arithmetic, not the data's rounding."""
    return 1e4 + np.random.default_rng(seed).integers(-200, 201, shape) * 2.0**-20


def test_batchnorm_with_a_large_mean_and_a_tiny_variance() -> None:
    """Subtracting the mean first keeps every digit: the output agrees with the exact one
    to float64's 1e-12 (a one-pass variance, E[x^2] - E[x]^2, loses all of it: 1e8 - 1e8
    leaves nothing of 1e-8). PyTorch's CPU kernel computes y = x a + b with a = weight /
    sqrt(var + eps), b = bias - mean a; rounding x a costs it up to eps_64 |x a| per value,
    so it is held to that bound instead (it is about 1e-10 off here)."""
    x = offset_grid((8, 3, 2, 4))
    layer = batchnorm(x.shape)
    axes = (0, 2, 3)
    weight, bias = (layer.params[k].reshape(1, 3, 1, 1) for k in ("weight", "bias"))
    exact = exact_normalized(x, axes, layer.eps, weight, bias)
    var = x.var(axis=axes, keepdims=True)
    assert 1e-9 < var.min() and var.max() < 1e-7
    assert_agree(layer.forward(x), exact, F64, "ours vs exact")
    torch_y = F.batch_norm(torch.from_numpy(x), None, None, *(torch.from_numpy(layer.params[k])
                           for k in ("weight", "bias")), training=True).numpy()
    torch_bound = np.finfo(F64).eps * np.max(np.abs(x * weight / np.sqrt(var + layer.eps)))
    assert np.abs(torch_y - exact).max() <= 4 * torch_bound
    # The gradients carry no such rounding: the backward works on x - mean.
    layer = batchnorm(x.shape)
    layer.forward(x)
    grad_y = rng.standard_normal(x.shape)
    grad_x = layer.backward(grad_y)
    xt = torch.from_numpy(x).requires_grad_(True)
    F.batch_norm(xt, None, None, torch.from_numpy(layer.params["weight"]),
                 torch.from_numpy(layer.params["bias"]), training=True).backward(
                     torch.from_numpy(grad_y))
    check(grad_x, xt.grad.numpy(), F64, "batch norm input gradient at a large mean")


def test_layernorm_with_a_large_mean_and_a_tiny_variance() -> None:
    x = offset_grid((3, 4, 8), seed=1)
    layer = LayerNorm((4, 8))
    layer.params["weight"][...] = rng.standard_normal((4, 8))
    layer.params["bias"][...] = rng.standard_normal((4, 8))
    exact = exact_normalized(x, (1, 2), layer.eps, layer.params["weight"], layer.params["bias"])
    assert_agree(layer.forward(x), exact, F64, "ours vs exact")


# ---- layer norm ------------------------------------------------------------------------

def layernorm(normalized_shape, dtype=F64, seed: int = 0) -> LayerNorm:
    """A LayerNorm with random weight and bias."""
    layer = LayerNorm(normalized_shape, dtype=dtype)
    draw = np.random.default_rng(seed)
    for key in ("weight", "bias"):
        layer.params[key][...] = draw.standard_normal(layer.params[key].shape)
    return layer


def torch_layernorm(layer: LayerNorm):
    return lambda x, p: F.layer_norm(x, layer.normalized_shape, p["weight"], p["bias"],
                                     eps=layer.eps)


@pytest.mark.parametrize("dtype, min_values", DTYPE_CASES, ids=["float64", "float32"])
@settings(max_examples=50, deadline=None)
@given(data=st.data(), seed=seeds)
def test_layernorm_matches_torch(dtype, min_values: int, data, seed: int) -> None:
    shape, normalized = data.draw(layernorm_cases(min_values))
    layer = layernorm(normalized, dtype, seed)
    x = random_input(np.random.default_rng(seed), shape, dtype)
    trailing = tuple(range(x.ndim - len(normalized), x.ndim))
    assume(dtype == F64 or spread_enough(x, trailing))          # FLOAT32_NORM_MIN_STD says why
    assert_layer_matches_torch(layer, x, torch_layernorm(layer), seed)


LAYERNORM_CASES = {   # name: (x, normalized_shape)
    "an int: the last axis": (rng.standard_normal((4, 7)), 7),
    "(C, H, W) of images": (rng.standard_normal((2, 3, 5, 4)), (3, 5, 4)),
    "one example": (rng.standard_normal((1, 6)), 6),
    "empty batch": (np.zeros((0, 3, 2)), (3, 2)),
    "batch-last view": (rng.standard_normal((3, 5, 4)).transpose(2, 0, 1), (3, 5)),
    "constant rows": (np.full((3, 4), -1.5), 4),
    "no batch axis (torch takes it)": (rng.standard_normal((3, 4)), (3, 4)),
}


@pytest.mark.parametrize("x, normalized", LAYERNORM_CASES.values(), ids=LAYERNORM_CASES.keys())
@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_edge_cases_match_torch(x: np.ndarray, normalized, dtype) -> None:
    layer = layernorm(normalized, dtype)
    assert_layer_matches_torch(layer, x.astype(dtype), torch_layernorm(layer))


@pytest.mark.parametrize("shape", [(5, 1), (1, 1)])
def test_layernorm_of_one_value_is_its_bias(shape) -> None:
    """One value per row has no variance: x_hat = 0 exactly, so y = bias, and the gradients
    of x and of the weight are 0; a single element, (1, 1), too. (PyTorch's CPU kernel
    computes x_hat as x / std - mean / std, which leaves rounding of |x| / sqrt(eps) there;
    float64 agrees with it at 1e-12, float32 is held to the exact values.)"""
    x = rng.standard_normal(shape)
    layer = layernorm(1)
    assert_layer_matches_torch(layer, x, torch_layernorm(layer))
    for dtype in DTYPES:
        layer = layernorm(1, dtype)
        y = layer.forward(x.astype(dtype))
        np.testing.assert_array_equal(y, np.broadcast_to(layer.params["bias"], shape))
        np.testing.assert_array_equal(layer.backward(rng.standard_normal(shape).astype(dtype)),
                                      0.0)
        np.testing.assert_array_equal(layer.grads["weight"], 0.0)


def test_layernorm_is_the_same_in_eval_mode() -> None:
    layer = layernorm((3, 4))
    x = rng.standard_normal((2, 3, 4))
    y = layer.forward(x)
    np.testing.assert_array_equal(layer.eval().forward(x), y)
    assert layer.buffers == {}


def test_layernorm_backward_matches_finite_differences() -> None:
    layer = layernorm((2, 5))
    x, grad_y = rng.standard_normal((3, 2, 5)), rng.standard_normal((3, 2, 5))
    layer.forward(x)
    grad_x = layer.backward(grad_y)
    numeric = numerical_gradient(lambda: float((layer.forward(x) * grad_y).sum()), x)
    assert_matches_finite_differences(grad_x, numeric, "layernorm grad x")


# ---- errors ----------------------------------------------------------------------------

def test_batchnorm_refuses_one_value_per_channel_in_training_as_torch() -> None:
    for shape in [(1, 3), (1, 3, 1), (1, 2, 1, 1)]:
        layer = batchnorm(shape)
        layer.name = "bn1"
        message = (f"bn1 ({type(layer).__name__}): expected more than 1 value per channel when "
                   f"training (there is no variance), got an input of shape {shape}; PyTorch "
                   "refuses it too")
        with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
            layer.forward(np.zeros(shape))
        with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
            torch_module(layer)(torch.zeros(shape, dtype=torch.float64))
        assert int(layer.buffers["num_batches_tracked"]) == 0   # nothing counted
        layer.eval().forward(np.zeros(shape))                   # eval mode takes it


@pytest.mark.parametrize("layer, x, message", [
    (BatchNorm2D(3), np.zeros((2, 3, 4)),
     r"BatchNorm2D: expected input \(N, C, H, W\) with C = 3, got an array of shape \(2, 3, 4\)"),
    (BatchNorm2D(3), np.zeros((2, 4, 5, 5)),
     r"BatchNorm2D: expected input \(N, C, H, W\) with C = 3, got an array of shape "
     r"\(2, 4, 5, 5\)"),
    (BatchNorm1D(5), np.zeros((2, 4)),
     r"BatchNorm1D: expected input \(N, D\) or \(N, C, L\) with C = 5, got an array of shape "
     r"\(2, 4\)"),
    (BatchNorm1D(5), np.zeros((2, 5), np.float32),
     "BatchNorm1D: expected float64 input to match the layer's weights, got float32"),
    (LayerNorm((3, 4)), np.zeros((2, 4, 3)),
     r"LayerNorm: expected input \(N, ..., 3, 4\), got an array of shape \(2, 4, 3\)"),
    (LayerNorm(4), np.zeros(()),
     r"LayerNorm: expected input \(N, ..., 4\), got an array of shape \(\)"),
    (BatchNorm1D(3), [[1.0, 2.0, 3.0]],
     r"BatchNorm1D: expected a NumPy array \(N, D\) or \(N, C, L\) with C = 3, got list$"),
    (LayerNorm(3), [[1.0, 2.0, 3.0]],
     r"LayerNorm: expected a NumPy array \(N, ..., 3\), got list$"),
])
def test_norm_input_errors(layer, x: np.ndarray, message: str) -> None:
    with pytest.raises(ShapeError, match=f"^{message}"):
        layer.forward(x)


def test_norm_backward_errors_and_summary_shapes() -> None:
    for layer in (BatchNorm2D(2), LayerNorm(3)):
        with pytest.raises(ShapeError, match="backward called before forward"):
            layer.backward(np.zeros((2, 2, 3, 3)))
    assert BatchNorm2D(4).output_shape((4, 12, 12)) == (4, 12, 12)
    assert LayerNorm((8, 4, 4)).output_shape((8, 4, 4)) == (8, 4, 4)


@pytest.mark.parametrize("layer, shape, message", [   # shape: one example's
    (BatchNorm2D(4), (3, 12, 12),
     "BatchNorm2D: expected an input of shape (C, H, W) with C = 4, got (3, 12, 12)"),
    (BatchNorm1D(5), (5, 3, 2),
     "BatchNorm1D: expected an input of shape (D) or (C, L) with C = 5, got (5, 3, 2)"),
    (LayerNorm((3, 4)), [4, 3], "LayerNorm: expected an input ending in (3, 4), got (4, 3)"),
])
def test_output_shape_errors(layer, shape, message: str) -> None:
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        layer.output_shape(shape)


@pytest.mark.parametrize("make, message", [
    (lambda: BatchNorm2D(0), "BatchNorm2D: num_features must be an integer >= 1, got 0"),
    (lambda: BatchNorm1D(3, eps=0), "BatchNorm1D: eps must be > 0, got 0"),
    (lambda: LayerNorm(4, eps=0), "LayerNorm: eps must be > 0, got 0"),
    (lambda: BatchNorm1D(3, momentum=1.5), "BatchNorm1D: momentum must be in [0, 1] or None, "
                                           "got 1.5"),
    (lambda: LayerNorm(()), "LayerNorm: normalized_shape must be an integer >= 1 or a "
                            "non-empty tuple of them, got ()"),
    (lambda: LayerNorm((3, 0)), "LayerNorm: normalized_shape must be an integer >= 1 or a "
                                "non-empty tuple of them, got (3, 0)"),
    (lambda: LayerNorm(4, dtype=np.int32), "dtype must be float32 or float64, got int32"),
])
def test_bad_arguments(make, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()


def test_parameters_buffers_repr_and_kinds() -> None:
    bn = BatchNorm2D(3, dtype=np.float32)
    assert repr(bn) == "BatchNorm2D(3, eps=1e-05, momentum=0.1)"
    assert {k: (v.shape, v.dtype.name) for k, v in {**bn.params, **bn.buffers}.items()} == {
        "weight": ((3,), "float32"), "bias": ((3,), "float32"),
        "running_mean": ((3,), "float32"), "running_var": ((3,), "float32"),
        "num_batches_tracked": ((), "int64")}
    assert list({**bn.params, **bn.buffers}) == list(torch.nn.BatchNorm2d(3).state_dict())
    assert repr(LayerNorm(5)) == "LayerNorm((5,), eps=1e-05)"
    assert (BatchNorm1D.kind, BatchNorm2D.kind, LayerNorm.kind) == (
        "batchnorm1d", "batchnorm2d", "layernorm")
