"""Conv2D: the seed's convolution layer, equations (1)-(4)."""

from __future__ import annotations

import numpy as np

from scratchnet import kernels
from scratchnet.layers.base import Layer, as_float_dtype, default_rng

BIAS_MODES = ("tied", "untied", None)


class Conv2D(Layer):
    """2-D cross-correlation, as the seed's eq. (1) and ``torch.nn.Conv2d`` compute it.

    Forward, eq. (1), for output channel ``i`` and image ``n``::

        Y_i = B_i + sum_j X_j (*) K_ij          (*) = cross-correlation, no kernel flip

    Backward, eqs. (2)-(4), with ``E`` the loss and ``G_i = dE/dY_i``::

        dE/dK_ij = X_j (*) G_i                  (2)  summed over the batch
        dE/dB_i  = G_i                          (3)  summed over the batch (and over
                                                     positions when the bias is tied)
        dE/dX_j  = sum_i G_i (*full) rot180(K_ij)  (4)

    Args:
        in_channels, out_channels: ``C_in`` and ``C_out``.
        kernel_size: ``k`` for a ``k x k`` kernel (or a ``(kh, kw)`` pair).
        stride, padding: as in PyTorch (zero padding on every side).
        bias: ``"tied"``: one bias per output channel, shape ``(C_out,)``, as PyTorch.
            ``"untied"``: one bias per output position, shape ``(C_out, H_out, W_out)``,
            the seed's ``B_i`` (its Table 2); needs ``input_shape``. ``None``: no bias.
        input_shape: ``(C_in, H, W)`` of one example; required for the untied bias (its size
            depends on it), optional otherwise (then the input size is checked against it).
        init: ``"torch"`` (default): PyTorch's default, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
            for weights and biases. ``"he"``: He/Kaiming normal ``N(0, 2/fan_in)`` weights,
            zero biases.
        dtype: ``np.float64`` or ``np.float32``.
        rng: NumPy Generator used for the initialization.

    Shapes: ``x: (N, C_in, H, W)`` -> ``y: (N, C_out, H_out, W_out)``, with
    ``H_out = (H + 2*padding - kh) // stride + 1`` (likewise ``W_out``).
    Parameters: ``weight: (C_out, C_in, kh, kw)``, ``bias`` as above.
    """

    kind = "conv2d"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        bias: str | None = "tied",
        *,
        input_shape: tuple[int, int, int] | None = None,
        init: str = "torch",
        dtype: type | np.dtype = np.float64,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        for arg, value, low in [
            ("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
            ("kernel_size", kh, 1), ("kernel_size", kw, 1), ("stride", stride, 1),
            ("padding", padding, 0),
        ]:
            if int(value) != value or value < low:
                raise ValueError(f"Conv2D: {arg} must be an integer >= {low}, got {value!r}")
        if bias not in BIAS_MODES:
            raise ValueError(f"Conv2D: bias must be one of {BIAS_MODES}, got {bias!r}")
        if bias == "untied" and input_shape is None:
            raise ValueError(
                "Conv2D: bias='untied' needs input_shape=(C, H, W): "
                "its bias has one value per output position"
            )
        if init not in ("torch", "he"):
            raise ValueError(f"Conv2D: init must be 'torch' or 'he', got {init!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = (int(kh), int(kw)), int(stride), int(padding)
        self.bias_mode, self.init = bias, init
        self.dtype = as_float_dtype(dtype)
        self.input_shape = None
        if input_shape is not None:
            self.input_shape = tuple(int(s) for s in input_shape)
            self.output_shape(self.input_shape)  # fails early on an impossible size

        rng = default_rng(rng)
        fan_in = in_channels * kh * kw
        bound = 1.0 / np.sqrt(fan_in)
        w_shape = (self.out_channels, self.in_channels, kh, kw)
        if init == "torch":
            weight = rng.uniform(-bound, bound, w_shape)
        else:
            weight = rng.normal(0.0, np.sqrt(2.0 / fan_in), w_shape)
        self.params["weight"] = weight.astype(self.dtype)
        if bias is not None:
            b_shape = (self.out_channels,)
            if bias == "untied":
                b_shape = self.output_shape(self.input_shape)
            b = rng.uniform(-bound, bound, b_shape) if init == "torch" else np.zeros(b_shape)
            self.params["bias"] = b.astype(self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._cache: tuple | None = None
        self._workspace = kernels.Workspace()   # the kernels' scratch arrays, kept between calls

    def extra_repr(self) -> str:
        kh, kw = self.kernel_size
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size=({kh}, {kw}), "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias_mode!r}"
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            self._fail(f"expected an input of shape ({self.in_channels}, H, W), got {input_shape}")
        (kh, kw), p = self.kernel_size, self.padding
        _, H, W = input_shape
        if H + 2 * p < kh or W + 2 * p < kw:
            self._fail(
                f"input {H}x{W} (padded by {p}) is smaller than the {kh}x{kw} kernel"
            )
        Ho = kernels.output_size(H, kh, self.stride, p)
        Wo = kernels.output_size(W, kw, self.stride, p)
        return (self.out_channels, Ho, Wo)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C_in, H, W)`` -> ``y: (N, C_out, H_out, W_out)``; eq. (1)."""
        self._check_input(x, f"(N, {self.in_channels}, H, W)", 4)
        if self.input_shape is None:
            self.output_shape(x.shape[1:])                 # fails on a wrong size
        elif x.shape[1:] != self.input_shape:              # (a size checked at construction)
            C, H, W = self.input_shape
            self._fail(f"expected input of shape (N, {C}, {H}, {W}), got {x.shape}")
        y, self._cache = kernels.conv2d_forward(           # B_i per channel or position
            x, self.params["weight"], self.stride, self.padding, self.params.get("bias"),
            self._workspace,
        )
        return self._remember_output(y)

    def backward(self, grad_y: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """``grad_y: (N, C_out, H_out, W_out)`` -> ``grad_x: (N, C_in, H, W)``; eqs. (2)-(4).

        Fills ``grads["weight"]`` (eq. 2) and ``grads["bias"]`` (eq. 3). With
        ``need_input_grad=False`` eq. (4) is skipped and None returned (a first layer's
        input gradient is not needed for training).
        """
        self._check_grad(grad_y, self._cache)
        grad_x, grad_weight, grad_bias = kernels.conv2d_backward(
            grad_y, self._cache, self.params["weight"], self.stride, self.padding,
            self.bias_mode, need_input_grad, self._workspace,
        )
        self.grads["weight"][...] = grad_weight             # eq. (2)
        if grad_bias is not None:                          # eq. (3), summed over the batch
            self.grads["bias"][...] = grad_bias
        return grad_x                                       # eq. (4)
