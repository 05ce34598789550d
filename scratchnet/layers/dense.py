"""Dense: the seed's fully connected layer, equations (7)-(10)."""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer, as_float_dtype, default_rng


class Dense(Layer):
    """Fully connected layer, as ``torch.nn.Linear``.

    The seed writes one example as a column, ``Y = W X + B`` (7). With a batch of examples
    as rows, ``x: (N, in)``, the same equations read::

        y      = x W^T + b            (7)
        dE/dW  = dY^T x               (8)   summed over the batch
        dE/db  = sum_n dY             (9)
        dE/dx  = dY W                 (10)

    Args:
        in_features, out_features: sizes of ``x`` and ``y``.
        init: ``"torch"`` (default): ``U(-1/sqrt(in), 1/sqrt(in))`` for weight and bias, as
            PyTorch. ``"he"``: ``N(0, 2/in)`` weights, zero bias.
        dtype: ``np.float64`` or ``np.float32``.
        rng: NumPy Generator used for the initialization.

    Shapes: ``x: (N, in)`` -> ``y: (N, out)``; ``weight: (out, in)``, ``bias: (out,)``.
    """

    kind = "dense"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "torch",
        dtype: type | np.dtype = np.float64,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        for arg, value in [("in_features", in_features), ("out_features", out_features)]:
            if int(value) != value or value < 1:
                raise ValueError(f"Dense: {arg} must be an integer >= 1, got {value!r}")
        if init not in ("torch", "he"):
            raise ValueError(f"Dense: init must be 'torch' or 'he', got {init!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = as_float_dtype(dtype)
        self.init = init
        rng = default_rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        shape = (self.out_features, self.in_features)
        if init == "torch":
            weight = rng.uniform(-bound, bound, shape)
            bias = rng.uniform(-bound, bound, self.out_features)
        else:
            weight = rng.normal(0.0, np.sqrt(2.0 / in_features), shape)
            bias = np.zeros(self.out_features)
        self.params = {"weight": weight.astype(self.dtype), "bias": bias.astype(self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.in_features,):
            self._fail(f"expected an input of shape ({self.in_features},), got {input_shape}")
        return (self.out_features,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, in)`` -> ``y: (N, out)``; eq. (7)."""
        self._check_input(x, f"(N, {self.in_features})", 2)
        self.output_shape(x.shape[1:])
        self._x = x
        return self._remember_output(x @ self.params["weight"].T + self.params["bias"])

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, out)`` -> ``grad_x: (N, in)``; eqs. (8)-(10)."""
        self._check_grad(grad_y, self._x)
        np.matmul(grad_y.T, self._x, out=self.grads["weight"])   # (8)
        np.sum(grad_y, axis=0, out=self.grads["bias"])          # (9)
        return grad_y @ self.params["weight"]                # (10)
