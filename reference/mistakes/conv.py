"""Mistakes in a convolution layer, eqs. (1)-(4), and the plain Conv2D they are made in.

``PlainConv2D`` is the seed's convolution as a student writes it in NumPy, on
``(N, C, H, W)`` arrays: every equation is one cross-correlation (``correlate``), and each
step a mistake can go wrong in is a method of its own, so that each variant below
overrides exactly one method.
"""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Mistake
from scratchnet import naive
from scratchnet.layers import Conv2D


def correlate(x: np.ndarray, k: np.ndarray, stride: int = 1) -> np.ndarray:
    """Valid cross-correlation summed over input channels, the seed's ``X (*) K``: eq. (1)
    without a bias, as ``scratchnet.naive.conv_forward`` computes it.

    ``x: (N, C, H, W)``, ``k: (C_out, C, kh, kw)`` -> ``(N, C_out, Ho, Wo)`` with
    ``Ho = (H - kh) // stride + 1``: ``y[n, o, i, j] = sum_{c,u,v} x[n, c, i*s+u, j*s+v]
    k[o, c, u, v]``.
    """
    return naive.conv_forward(x, k, stride=stride)


def rot180(k: np.ndarray) -> np.ndarray:
    """The seed's ``R180``: each ``kh x kw`` kernel turned by 180 degrees."""
    return k[:, :, ::-1, ::-1]


class PlainConv2D(Conv2D):
    """Conv2D written from eqs. (1)-(4) in plain NumPy; arguments and results as Conv2D.

    Forward (1): ``Y = B + X (*) K`` on the zero-padded input. Backward: (2) the weight
    gradient correlates the input with the output gradient ``G`` (batch and channels
    trading places, so that the sum runs over the batch); (3) the bias gradient sums ``G``
    over the batch (and positions, for a tied bias); (4) the input gradient correlates
    ``G`` - spread out by the stride and padded "full" - with the rotated kernels, and
    drops the padding.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``; eq. (1)."""
        self._x = x
        y = naive.conv_forward(x, self.params["weight"], self.params.get("bias"),
                               self.stride, self.padding)
        return y.astype(x.dtype, copy=False)         # naive computes in float64

    def backward(self, grad_y: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """``grad_y: (N, C_out, H_out, W_out)`` -> ``(N, C_in, H, W)``; eqs. (2)-(4)."""
        self.grads["weight"][...] = self.weight_grad(grad_y)
        if self.bias_mode is not None:
            self.grads["bias"][...] = self.bias_grad(grad_y)
        if not need_input_grad:
            return None
        return self.input_grad(grad_y).astype(grad_y.dtype, copy=False)

    def pad(self, x: np.ndarray) -> np.ndarray:
        p = self.padding
        return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))

    def add_bias(self, y: np.ndarray) -> np.ndarray:
        if self.bias_mode == "tied":                 # one bias per channel
            return y + self.params["bias"][:, None, None]
        if self.bias_mode == "untied":               # one bias per output position
            return y + self.params["bias"]
        return y

    def weight_grad(self, grad_y: np.ndarray) -> np.ndarray:
        """Eq. (2), ``dE/dK_ij = X_j (*) G_i`` summed over the batch: (C_out, C_in, kh, kw)."""
        return naive.conv_weight_grad(self._x, grad_y, self.kernel_size, self.stride,
                                      self.padding)

    def bias_grad(self, grad_y: np.ndarray) -> np.ndarray:
        """Eq. (3), ``dE/dB_i = G_i``, summed over the batch."""
        return naive.conv_bias_grad(grad_y, tied=self.bias_mode == "tied")

    def input_grad(self, grad_y: np.ndarray) -> np.ndarray:
        """Eq. (4), ``dE/dX_j = sum_i G_i (*full) R180(K_ij)``, without the padding."""
        kh, kw = self.kernel_size
        spread = self.dilate(grad_y)
        full = np.pad(spread, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        kernels = self.flip(self.params["weight"]).transpose(1, 0, 2, 3)  # (C_in, C_out, .)
        return self.crop(correlate(full, kernels))

    def flip(self, kernels: np.ndarray) -> np.ndarray:
        """The R180 of eq. (4)."""
        return rot180(kernels)

    def dilate(self, grad_y: np.ndarray) -> np.ndarray:
        """``G`` placed ``stride`` apart, zeros between, on ``stride_one_grid``."""
        spread = self.stride_one_grid(grad_y)
        spread[:, :, :: self.stride, :: self.stride] = grad_y
        return spread

    def stride_one_grid(self, grad_y: np.ndarray) -> np.ndarray:
        """Zeros the shape of the output a stride-1 correlation of the padded input would
        have: ``(N, C_out, Hp - kh + 1, Wp - kw + 1)`` (rows and columns the strided
        windows never reached keep their zeros)."""
        (kh, kw), (H, W) = self.kernel_size, self._x.shape[2:]
        p = self.padding
        return np.zeros((*grad_y.shape[:2], H + 2 * p - kh + 1, W + 2 * p - kw + 1), grad_y.dtype)

    def crop(self, grad_padded: np.ndarray) -> np.ndarray:
        """The gradient of the padded input without its padding: ``(N, C_in, H, W)``."""
        p, (H, W) = self.padding, self._x.shape[2:]
        return grad_padded[:, :, p : p + H, p : p + W]


class KernelFlippedForward(PlainConv2D):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        # a true convolution: the kernel is rotated before it slides
        return self.add_bias(correlate(self.pad(x), rot180(self.params["weight"]), self.stride))


class KernelNotFlippedInputGrad(PlainConv2D):
    def flip(self, kernels: np.ndarray) -> np.ndarray:
        return kernels                                   # R180 left out


class BiasGradNotSummed(PlainConv2D):
    def bias_grad(self, grad_y: np.ndarray) -> np.ndarray:
        first = grad_y[0]                                # the first example only
        return first.sum(axis=(1, 2)) if self.bias_mode == "tied" else first


# Real code: `dw /= N` and `db /= N` at the end of the backward pass (the batch-mean
# convention of courses whose loss returns a summed gradient).
class BiasGradAveraged(PlainConv2D):
    def backward(self, grad_y: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        grad_x = super().backward(grad_y, need_input_grad)
        for grad in self.grads.values():
            grad /= len(grad_y)                          # weight and bias, by the batch size
        return grad_x


class WeightGradSwapped(PlainConv2D):
    def weight_grad(self, grad_y: np.ndarray) -> np.ndarray:
        images = self.pad(self._x).transpose(1, 0, 2, 3)
        kernels = self.dilate(grad_y).transpose(1, 0, 2, 3)
        return correlate(images, kernels)                # (C_in, C_out, ...): not transposed back


class StrideIgnoredInputGrad(PlainConv2D):
    def dilate(self, grad_y: np.ndarray) -> np.ndarray:
        packed = self.stride_one_grid(grad_y)
        _, _, Ho, Wo = grad_y.shape
        packed[:, :, :Ho, :Wo] = grad_y                  # side by side, as if the stride were 1
        return packed


class PaddingIgnoredInputGrad(PlainConv2D):
    def crop(self, grad_padded: np.ndarray) -> np.ndarray:
        H, W = self._x.shape[2:]
        return grad_padded[:, :, :H, :W]                 # cut to size at the corner


class UntiedBiasAsTied(PlainConv2D):
    def bias_grad(self, grad_y: np.ndarray) -> np.ndarray:
        per_channel = grad_y.sum(axis=(0, 2, 3))         # also summed over positions
        return per_channel if self.bias_mode == "tied" else per_channel[:, None, None]


# Real code (CS231n-style backward passes, 3 of 8 real convolutions in issue 21): the input
# gradient is accumulated in a padded buffer and cut out with `dx_pad[:, :, p:-p, p:-p]`,
# which is right for p > 0 and the empty slice 0:0 for p = 0: an (N, C, 0, 0) array.
class CropEmptyWithoutPadding(PlainConv2D):
    def crop(self, grad_padded: np.ndarray) -> np.ndarray:
        p = self.padding
        return grad_padded[:, :, p:-p, p:-p]             # 0:-0 is empty


# Real code: one image side stands for both (`n_c, in_dim, _ = image.shape`, then
# `out_dim = (in_dim - f) // s + 1` for rows and columns). With H < W the output lacks
# columns; with H > W the windows run past the last column, the slice comes back narrower
# than the kernel, and the product raises NumPy's broadcasting ValueError.
class AssumesSquareInput(PlainConv2D):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        xp, (kh, kw), s = self.pad(x), self.kernel_size, self.stride
        side = (xp.shape[2] - kh) // s + 1               # the height's, for both sides
        weight = self.params["weight"]
        y = np.zeros((x.shape[0], weight.shape[0], side, side), x.dtype)
        for i in range(side):
            for j in range(side):
                window = xp[:, :, i * s : i * s + kh, j * s : j * s + kw]
                for f in range(weight.shape[0]):
                    y[:, f, i, j] = np.sum(window * weight[f], axis=(1, 2, 3))
        return self.add_bias(y)


# Real code (Python 2 assignments run in Python 3): `H_out = 1 + (H + 2 * pad - HH) /
# stride` is a float, and `np.zeros((N, F, H_out, W_out))` raises TypeError: 'float'
# object cannot be interpreted as an integer, on every input.
class SizeTrueDivision(PlainConv2D):
    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        (H, W), (kh, kw), p, s = x.shape[2:], self.kernel_size, self.padding, self.stride
        H_out = 1 + (H + 2 * p - kh) / s                 # true division: a float
        W_out = 1 + (W + 2 * p - kw) / s
        y = np.zeros((x.shape[0], self.out_channels, H_out, W_out), x.dtype)  # raises
        y[...] = correlate(self.pad(x), self.params["weight"], s)
        return self.add_bias(y)


# Real code (CS231n's fast convolution, copied into naive ones): `assert (W + 2 * pad - WW)
# % stride == 0, 'width does not work'`, then the same for the height. PyTorch drops the
# rows and columns left over; this raises AssertionError on them.
class AssertStrideDivides(PlainConv2D):
    def forward(self, x: np.ndarray) -> np.ndarray:
        (H, W), (kh, kw), p, s = x.shape[2:], self.kernel_size, self.padding, self.stride
        assert (W + 2 * p - kw) % s == 0, "width does not work"
        assert (H + 2 * p - kh) % s == 0, "height does not work"
        return super().forward(x)


# Real code: the backward pass rebuilds the padded input's size from the output's,
# (H_out - 1) * stride + kernel (right only when the stride divides), so the gradient of
# the rows the windows never reach is not there to cut: the input gradient comes back
# with rows and columns missing wherever more are left over than the padding covers.
class DropsLeftoverRows(PlainConv2D):
    def stride_one_grid(self, grad_y: np.ndarray) -> np.ndarray:
        _, _, Ho, Wo = grad_y.shape
        s = self.stride
        return np.zeros((*grad_y.shape[:2], (Ho - 1) * s + 1, (Wo - 1) * s + 1), grad_y.dtype)


# Real code: a 'same' padding mode that computes the stride-1 correlation of the padded
# input (the output as large as the input) and applies the stride only in its 'valid'
# branch: with padding and a stride, the output has every position, not every stride-th.
class SamePaddingIgnoresStride(PlainConv2D):
    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.padding == 0:
            return super().forward(x)
        self._x = x
        return self.add_bias(correlate(self.pad(x), self.params["weight"]))   # stride 1


MISTAKES = [
    Mistake(
        "conv-kernel-flipped-forward", "conv2d",
        "The forward pass convolves (rotates the kernel by 180 degrees) instead of "
        "cross-correlating, as PyTorch and the seed's (1) do.",
        "(1)", KernelFlippedForward, "output", in_network="conv2"),
    Mistake(
        "conv-kernel-not-flipped-input-grad", "conv2d",
        "The input gradient correlates the output gradient with the kernels as they are: "
        "eq. (4) without its R180.",
        "(4)", KernelNotFlippedInputGrad, "grad input", in_network="conv2"),
    Mistake(
        "conv-bias-grad-not-summed", "conv2d",
        "The bias gradient is the first example's instead of the sum over the batch.",
        "(3)", BiasGradNotSummed, "grad bias", "batch > 1", in_network="conv2"),
    Mistake(
        "conv-bias-grad-averaged", "conv2d",
        "The weight and bias gradients are divided by the batch size: a convention, right "
        "only when the loss's gradient is not averaged already, and PyTorch's mean loss's "
        "is, so here they are N times too small (declare the convention `grads averaged` "
        "and the check multiplies them back).",
        "(2)", BiasGradAveraged, "grad weight", "batch > 1", in_network="conv2"),
    Mistake(
        "conv-weight-grad-swapped", "conv2d",
        "The weight gradient is computed per channel pair but left as (in, out) instead of "
        "(out, in): dE/dK_ij holds X_i (*) G_j (it fits only when the layer has as many "
        "output as input channels).",
        "(2)", WeightGradSwapped, "grad weight"),
    Mistake(
        "conv-stride-ignored-input-grad", "conv2d",
        "The input gradient ignores the stride: the output gradient is not spread out "
        "stride apart before the full correlation of eq. (4).",
        "(4)", StrideIgnoredInputGrad, "grad input", "stride > 1"),
    Mistake(
        "conv-padding-ignored-input-grad", "conv2d",
        "The input gradient is not cropped back by the padding: it is cut to the input's "
        "size from the corner, so it is shifted by the padding.",
        "(4)", PaddingIgnoredInputGrad, "grad input", "padding > 0"),
    Mistake(
        "conv-untied-bias-as-tied", "conv2d",
        "An untied bias (one per output position, the seed's B_i) gets one gradient per "
        "channel, summed over positions as for a tied bias.",
        "(3)", UntiedBiasAsTied, "grad bias", "untied bias", in_network="conv2"),
    Mistake(
        "conv-input-grad-cut-empty-without-padding", "conv2d",
        "The input gradient is cut out of the padded one as dx_pad[:, :, p:-p, p:-p], which "
        "at padding 0 is the empty slice 0:0: the gradient comes back with no rows.",
        "(4)", CropEmptyWithoutPadding, "grad input"),
    Mistake(
        "conv-assumes-square-input", "conv2d",
        "The output's size is computed from the input's height for both sides: with fewer "
        "rows than columns the output lacks columns, with more the windows run past the "
        "last column and NumPy raises ValueError.",
        "(1)", AssumesSquareInput, "output", "non-square input"),
    Mistake(
        "conv-size-true-division", "conv2d",
        "The output's size is computed with true division, / (a Python 2 habit): in Python "
        "3 it is a float, and allocating the output raises TypeError.",
        "(1)", SizeTrueDivision, "output"),
    Mistake(
        "conv-assert-stride-divides", "conv2d",
        "The forward pass asserts that the stride divides the padded input's size less the "
        "kernel's; PyTorch drops the rows and columns left over, and this raises "
        "AssertionError on them.",
        "(1)", AssertStrideDivides, "output", "sizes the stride does not divide"),
    Mistake(
        "conv-input-grad-drops-leftover-rows", "conv2d",
        "The input gradient is built over (H_out - 1) * stride + kernel rows of the padded "
        "input, the size rebuilt from the output's: where the stride leaves rows or columns "
        "over beyond the padding, the gradient comes back without them instead of with "
        "zeros.",
        "(4)", DropsLeftoverRows, "grad input", "sizes the stride does not divide"),
    Mistake(
        "conv-same-padding-ignores-stride", "conv2d",
        "With padding, the layer computes the stride-1 correlation of the padded input (a "
        "'same' output, as large as the input) and applies the stride only without "
        "padding: padded and strided, the output has every position instead of every "
        "stride-th.",
        "(1)", SamePaddingIgnoresStride, "output", "stride > 1 with padding > 0"),
]
