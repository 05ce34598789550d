"""Hypothesis strategies for the tests: every random layer configuration comes from here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

DTYPES = (np.float64, np.float32)


@dataclass(frozen=True)
class ConvCase:
    """One random convolution: the layer's arguments and the input it gets."""

    batch: int
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    height: int
    width: int
    bias: str | None
    kernel_width: int | None = None  # None: a square kernel, kernel x kernel

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.in_channels, self.height, self.width)

    @property
    def kernel_size(self) -> int | tuple[int, int]:
        """What ``Conv2D`` takes: ``kernel``, or ``(kernel, kernel_width)`` if oblong."""
        return self.kernel if self.kernel_width is None else (self.kernel, self.kernel_width)


@st.composite
def conv_cases(draw: st.DrawFn) -> ConvCase:
    """Batch 1-8, channels 1-6, kernels 1-5 high and square or 1-5 wide, stride 1-3,
    padding 0-2, odd and even sizes, every bias mode; the input is always at least as
    large as the kernel (padded)."""
    kernel = draw(st.integers(1, 5))
    kernel_width = draw(st.none() | st.integers(1, 5))
    kw = kernel if kernel_width is None else kernel_width
    padding = draw(st.integers(0, min(2, kernel - 1, kw - 1)))  # torch: padding < kernel
    low_h, low_w = max(1, kernel - 2 * padding), max(1, kw - 2 * padding)
    return ConvCase(
        batch=draw(st.integers(1, 8)),
        in_channels=draw(st.integers(1, 6)),
        out_channels=draw(st.integers(1, 6)),
        kernel=kernel,
        stride=draw(st.integers(1, 3)),
        padding=padding,
        height=draw(st.integers(low_h, low_h + 12)),
        width=draw(st.integers(low_w, low_w + 12)),
        bias=draw(st.sampled_from(["tied", "untied", None])),
        kernel_width=kernel_width,
    )


@dataclass(frozen=True)
class PoolCase:
    """One random max-pooling: window, stride (possibly overlapping) and input shape."""

    kernel: int
    stride: int
    shape: tuple[int, int, int, int]
    ties: bool  # draw inputs from a few small integers, so windows hold equal maxima


@st.composite
def pool_cases(draw: st.DrawFn) -> PoolCase:
    """Windows 1-4, strides 1-4 (overlapping when stride < kernel), sizes that do and do
    not divide, with and without ties."""
    kernel = draw(st.integers(1, 4))
    shape = (
        draw(st.integers(1, 8)),
        draw(st.integers(1, 6)),
        draw(st.integers(kernel, kernel + 11)),
        draw(st.integers(kernel, kernel + 11)),
    )
    return PoolCase(kernel, draw(st.integers(1, 4)), shape, draw(st.booleans()))


def random_input(rng: np.random.Generator, shape: tuple[int, ...], dtype, ties: bool = False):
    """Normal noise, or with ``ties`` small integers (0 most often) so that maxima repeat."""
    if ties:
        x = rng.choice([0.0, 0.0, 0.0, 1.0, 2.0, -1.0], size=shape)
    else:
        x = rng.standard_normal(shape)
    return x.astype(dtype)


seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from(DTYPES)


@st.composite
def relu_sum_cases(draw: st.DrawFn) -> tuple[list[float], list[float], float]:
    """``(shifts, coefficients, bias)`` of eq. (25): 1-6 distinct increasing integer
    shifts in [-10, 10], integer coefficients in [-9, 9] and bias in [-5, 5]. With
    integers (and points on a grid of eighths) every sum is exact in float64."""
    shifts = draw(st.lists(st.integers(-10, 10), min_size=1, max_size=6, unique=True))
    coefficients = draw(st.lists(st.integers(-9, 9), min_size=len(shifts),
                                 max_size=len(shifts)))
    return ([float(s) for s in sorted(shifts)], [float(c) for c in coefficients],
            float(draw(st.integers(-5, 5))))
