"""The work of one training step of a network: what it must compute and what it must hold.

FLOPs are counted from the layer shapes, the memory a step needs from the arrays' sizes;
:func:`measure_train_memory` measures what a scratchnet step really holds at its peak.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pandas as pd

from reports.steps import INPUT_SHAPE, random_batch, scratchnet_train_step
from scratchnet import Conv2D, Dense, Sequential, seed_network

MB = 1e6                           # bytes in a megabyte, as the memory table counts them
MEMORY_BATCH = 64                  # the batch of the measured training step
MEMORY_COLUMNS = [
    "dtype", "bias", "batch", "traced_peak_mb", "between_steps_mb", "activations_mb",
    "state_mb", "needed_mb", "peak_over_needed",
]


# ------------------------------------------------------------------------- FLOPs
def flop_table(net: Sequential, input_shape: tuple[int, ...] = INPUT_SHAPE) -> pd.DataFrame:
    """Multiply-adds (MACs) per image of every layer that has weights, from its shapes.

    Per image, with ``out`` the layer's output shape::

        Conv2D  forward MACs = C_out*H_out*W_out * C_in*kh*kw   (one dot product per output)
        Dense   forward MACs = in * out

    The backward pass repeats that work twice: once for the weight gradient and once for
    the input gradient, except that the network's first layer, when it is a Conv2D, skips
    its input gradient (a training step does not need it, and torch does not compute it
    for an input without ``requires_grad``). One MAC = 2 FLOPs. Bias adds, ReLU, pooling,
    the loss and the SGD update are element-wise and not counted.

    Columns: ``forward``, ``weight_grad``, ``input_grad`` (MACs per image), one row per
    weighted layer.
    """
    rows, shape = [], tuple(input_shape)
    for i, (name, layer) in enumerate(net.layers.items()):
        out = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            macs = math.prod(out) * layer.in_channels * kh * kw
        elif isinstance(layer, Dense):
            macs = layer.in_features * layer.out_features
        else:
            shape = out
            continue
        skip_input_grad = i == 0 and isinstance(layer, Conv2D)
        rows.append({"layer": name, "forward": macs, "weight_grad": macs,
                     "input_grad": 0 if skip_input_grad else macs})
        shape = out
    return pd.DataFrame(rows).set_index("layer")


def flops_per_image(net: Sequential, input_shape: tuple[int, ...] = INPUT_SHAPE
                    ) -> tuple[int, int]:
    """``(inference FLOPs, training-step FLOPs)`` per image: 2 x the MACs of :func:`flop_table`."""
    table = flop_table(net, input_shape)
    return 2 * int(table["forward"].sum()), 2 * int(table.to_numpy().sum())


# ------------------------------------------------------------------------ memory
def activation_table(net: Sequential, input_shape: tuple[int, ...] = INPUT_SHAPE
                     ) -> pd.DataFrame:
    """Elements per image of every layer's output and input-gradient array.

    This is what a training step must hold at the least, counting each layer's output and
    the gradient it returns (its input's shape) as one array each, and skipping the input
    gradient of a first Conv2D, as the training step does. What an implementation keeps
    besides (caches for the backward pass such as pooling winners or the convolutions'
    input matrices, temporaries) is *not* counted: it is the overhead the measured peak
    shows.
    """
    rows, shape = [], tuple(input_shape)
    for i, (name, layer) in enumerate(net.layers.items()):
        out = layer.output_shape(shape)
        skip = i == 0 and isinstance(layer, Conv2D)
        rows.append({"layer": name, "output": math.prod(out),
                     "input_grad": 0 if skip else math.prod(shape)})
        shape = out
    return pd.DataFrame(rows).set_index("layer")


def activation_bytes(net: Sequential, batch: int, input_shape: tuple[int, ...] = INPUT_SHAPE
                     ) -> int:
    """Bytes of all outputs and input gradients of :func:`activation_table` for a batch."""
    itemsize = np.dtype(net.dtype or np.float64).itemsize
    return int(activation_table(net, input_shape).to_numpy().sum()) * batch * itemsize


def state_bytes(net: Sequential) -> int:
    """Bytes of the parameters, their gradients and SGD's momentum buffers (3 x params)."""
    itemsize = np.dtype(net.dtype or np.float64).itemsize
    return 3 * net.num_params() * itemsize


# ---------------------------------------------------------------- measured memory
def measure_train_memory(dtype: str, bias: str = "untied", batch: int = MEMORY_BATCH
                         ) -> dict[str, float | int | str]:
    """Peak memory of one scratchnet training step, measured and needed (in ``MB``).

    ``tracemalloc`` traces from just before the network is built, so the traced memory
    holds the parameters, the optimizer's buffers, the gradients and whatever the layers
    keep between steps (the input batch is made before and not counted). After two
    warm-up steps the peak is reset and one step traced:

    * ``traced_peak_mb``: the highest traced memory during that step;
    * ``between_steps_mb``: what stayed allocated just before it (state + layer caches);
    * ``needed_mb = activations_mb + state_mb``: every layer's output and input gradient
      for the batch (:func:`activation_bytes`) plus parameters, gradients and momentum
      buffers (:func:`state_bytes`).

    The row's keys are ``MEMORY_COLUMNS``, in that order.
    """
    x, labels = random_batch(batch, dtype)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        net = seed_network("full", bias=bias, dtype=np.dtype(dtype), seed=0)
        step = scratchnet_train_step(net, x, labels)
        step()
        step()
        between, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    acts, state = activation_bytes(net, batch), state_bytes(net)
    return {
        "dtype": dtype, "bias": bias, "batch": batch,
        "traced_peak_mb": (peak - start) / MB, "between_steps_mb": (between - start) / MB,
        "activations_mb": acts / MB, "state_mb": state / MB, "needed_mb": (acts + state) / MB,
        "peak_over_needed": (peak - start) / (acts + state),
    }
