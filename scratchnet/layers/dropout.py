"""Dropout: inverted dropout, as ``torch.nn.Dropout`` (PyTorch's formula, no seed number)."""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer, default_rng


class Dropout(Layer):
    """Inverted dropout: in training, each value is dropped (set to 0) with probability
    ``p`` and the kept ones are scaled by ``1 / (1 - p)``, so that the expected output is
    the input; in eval mode the layer is the identity. As ``naive.dropout_forward`` and
    ``naive.dropout_backward`` compute it, with ``m`` the keep mask::

        y     = x * m / (1 - p)           (training; y = x in eval mode)
        dE/dx = dE/dy * m / (1 - p)       (training; dE/dx = dE/dy in eval mode)

    ``p = 0`` keeps everything (``y = x``); ``p = 1`` drops everything (``y = 0 * x``, no
    division by zero), as PyTorch.

    **The mask.** Each training ``forward`` draws a new mask from ``rng``, ``m = (u >= p)``
    for ``u`` uniform in ``[0, 1)``, and keeps it in ``mask`` (boolean, the shape of ``x``:
    True where a value is kept) until the next ``forward``: read it there to run a PyTorch
    twin in lockstep (``x * mask / (1 - p)``). To make the layer use a given mask instead
    (a check replaying another implementation's mask), call ``use_mask(keep)`` before a
    forward: the next training forward uses ``keep`` instead of drawing, and only that one
    (a mask is never reused by accident). An eval-mode forward neither draws nor uses one.

    Args:
        p: the probability of dropping a value, in ``[0, 1]`` (default 0.5, PyTorch's).
        rng: NumPy Generator the masks are drawn from (a fresh unseeded one if None).

    Shapes: any ``x`` -> ``y`` of the same shape; ``mask`` of that shape too.
    """

    kind = "dropout"

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0 <= p <= 1:   # also refuses NaN
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = default_rng(rng)
        self.mask: np.ndarray | None = None
        self._next_mask: np.ndarray | None = None
        self._scale: np.ndarray | None = None   # mask / (1 - p) of the last training forward

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def use_mask(self, keep: np.ndarray) -> None:
        """Make the next training ``forward`` keep exactly where ``keep`` (a boolean array
        of the input's shape) is True, instead of drawing a mask."""
        if not isinstance(keep, np.ndarray) or keep.dtype != np.bool_:
            got = keep.dtype if isinstance(keep, np.ndarray) else type(keep).__name__
            self._fail(f"use_mask expects a boolean NumPy array (True: keep), got {got}")
        self._next_mask = keep

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: any shape`` -> ``y`` of the same shape; training: ``x * mask / (1 - p)``."""
        self._check_input(x, "of any shape")
        if not self.training:
            self._scale = np.ones((), x.dtype)     # backward: the identity's
            return self._remember_output(x)
        if self._next_mask is not None:
            keep, self._next_mask = self._next_mask, None
            if keep.shape != x.shape:
                self._fail(f"the mask given to use_mask has shape {keep.shape}, the input "
                           f"{x.shape}")
        else:
            keep = self.rng.random(x.shape) >= self.p
        self.mask = keep
        # PyTorch's order: the mask is scaled first, then multiplies x.
        inverse = x.dtype.type(0 if self.p == 1 else 1 / (1 - self.p))
        self._scale = keep * inverse
        return self._remember_output(x * self._scale)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y`` -> ``grad_x = grad_y * mask / (1 - p)`` (``grad_y`` in eval mode)."""
        self._check_grad(grad_y, self._scale)
        return grad_y * self._scale
