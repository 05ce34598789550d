"""Training passes in chunks: a large batch goes through a network at most ``TRAIN_CHUNK``
images at a time, with the numbers of one pass over the whole batch.

Why. A pass keeps every layer's input, output and scratch arrays for the batch; at 256
MNIST images those outgrow the CPU's L2 cache (1 MiB a core), and each layer then streams
its arrays from the slower L3 cache. Chunks of at most 128 images keep a layer's arrays
closer to the core, which makes a training step at batch 256 cheaper by about a tenth
(float64) to a fifth (float32), and at 512 by about 40% (``reports/speed/history.md`` has
the figures).

How. ``forward`` cuts the batch into equal chunks (``chunk_slices``) and runs each
through its own copies of the layers, stacking their outputs; the loss then sees the whole
batch, as ever. ``backward`` runs each chunk's slice of the gradient back through that
chunk's copies, stacks the input gradients and sums the copies' parameter gradients into
the layers' ``grads``. Every example's numbers are those of the whole pass (each layer here
computes an example's output from that example alone), up to rounding where the BLAS
splits a product between its threads by the batch size; the parameter gradients are summed
in another order (per chunk, then over the chunks), so they too differ by rounding only.

A chunk's copy of a layer (:func:`chunk_copy`) shares everything with the layer (its
parameters, its settings) except its **per-chunk state**:

* what a forward keeps for its backward (a cache, the remembered output shape): the layers
  rebind these at each call, so a copy's are its own;
* what a pass writes into in place: the gradients (``grads``) and the kernels' scratch
  arrays (a ``kernels.Workspace``, kept between calls). Each chunk has its own, kept from
  one step to the next, since allocating them afresh costs page faults (see
  ``kernels.Workspace``).

Copies are made afresh from the layers at each forward, so a change to a layer (its mode, a
replaced parameter dict, the layer itself replaced through ``net.layers``) is what runs.
The layers themselves do not run: each is told so (``Layer.ran_elsewhere``), and a backward
called on one of them by hand then fails, naming the chunks, instead of using what its own
last forward kept.
A fused ``MaxPoolReLU`` is one layer here; the ``ReLU`` and ``MaxPool2D`` it holds only
name it.

Which networks. Only those whose every layer (in ``run_order``) is of one of the
``PER_EXAMPLE`` types, exactly: a subclass or anyone's layer may do anything. Batch norm
in training mode couples the examples of a batch, and dropout draws one mask for the whole
batch, so a network with either runs as one pass, as do batches of at most
``CHUNKS_ABOVE`` images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.kernels import Workspace
from scratchnet.layers import (
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    Identity,
    LeakyReLU,
    MaxPool2D,
    MaxPoolReLU,
    ReLU,
    Sigmoid,
    Tanh,
)
from scratchnet.layers.base import LayerProtocol, ShapeError, grad_mismatch

#: The most images in a chunk of a training pass, in float32 and float64 alike (a batch is
#: cut into equal chunks: ``chunk_slices``). Measured on the bench machine (AMD EPYC,
#: AVX-512, 1 MiB L2 a core), interleaved A/B of a training step of the seed network
#: against the whole pass, medians of per-round ratios: at batch 256 a step took 0.76-0.78
#: (float32) and 0.87-0.89 (float64) of the whole pass's time, 0.84 and 0.89-0.91 on the
#: README's path (input gradient too), and 0.55-0.72 at batch 512. Against each other in one
#: process, equal chunks of at most 128 beat those of at most 96 in float32 and matched them
#: in float64 (within the noise), and beat fixed chunks of 64 or 128 with a smaller last
#: one (64: 0.91-1.01 in float32 at 192 and 256); chunks of 32 lost (1.03-1.17).
#: ``reports/speed/history.md`` has the figures.
TRAIN_CHUNK = 128

#: Batches of more images than this run in chunks; smaller ones as one pass, as ever.
#: Chunked, batches of 129 to 152 took 1.03-1.23 of the whole pass's time, 160 to 176
#: 0.88-0.94 (float32) and 0.95-1.03 (float64), measured as ``TRAIN_CHUNK``.
CHUNKS_ABOVE = 160

#: The layers whose output for an example depends on that example alone (in either mode):
#: scratchnet's own, by exact type.
PER_EXAMPLE = frozenset({Conv2D, MaxPool2D, MaxPoolReLU, ReLU, Flatten, Dense, Identity,
                         AvgPool2D, Sigmoid, Tanh, LeakyReLU})


def forward_through(layers: list[LayerProtocol], x: np.ndarray) -> np.ndarray:
    """``x`` through ``layers``, in order."""
    for layer in layers:
        x = layer.forward(x)
    return x


def backward_through(layers: list[LayerProtocol], grad: np.ndarray,
                     need_input_grad: bool) -> np.ndarray | None:
    """``grad`` back through ``layers`` (the ones a forward ran, in its order); with
    ``need_input_grad=False`` a first Conv2D skips its input gradient and None is returned
    (training never needs it)."""
    for i, layer in enumerate(reversed(layers)):
        if i == len(layers) - 1 and not need_input_grad and isinstance(layer, Conv2D):
            return layer.backward(grad, need_input_grad=False)
        grad = layer.backward(grad)
    return grad


def chunk_slices(n: int) -> list[slice]:
    """The chunks of a batch of ``n`` examples: as few as hold at most ``TRAIN_CHUNK``
    examples each, of equal sizes (within one), since a small last chunk would cost a
    pass's overhead for little work."""
    k = -(-n // TRAIN_CHUNK)
    return [slice(n * c // k, n * (c + 1) // k) for c in range(k)]


def chunk_copy(layer: LayerProtocol, own: dict[str, Any]) -> LayerProtocol:
    """A copy of ``layer`` for one chunk: its attributes, but the per-chunk state in
    ``own`` (filled on the first call: gradient arrays and workspaces of its own).

    ``own`` is kept by the caller from one step to the next, so each chunk's arrays are
    allocated once."""
    if not own:
        own["grads"] = {key: np.zeros_like(g) for key, g in layer.grads.items()}
        own.update({name: Workspace() for name, value in vars(layer).items()
                    if isinstance(value, Workspace)})
    copy = object.__new__(type(layer))
    vars(copy).update(vars(layer))
    vars(copy).update(own)
    return copy


class Chunks:
    """A network's training passes in chunks: each chunk's own state, and the chunks and
    copies of the last forward (see the module docstring)."""

    def __init__(self) -> None:
        self._layers: list[LayerProtocol] = []      # the layers ``_own`` was made for
        self._own: list[list[dict[str, Any]]] = []  # [chunk][layer]: its per-chunk state
        self._chunks: list[tuple[slice, list[LayerProtocol]]] | None = None  # last forward's
        self._out: tuple[tuple[int, ...], np.dtype] | None = None            # its output

    @staticmethod
    def takes(layers: list[LayerProtocol], x: Any) -> bool:
        """Whether a forward of ``x`` through ``layers`` runs in chunks: a batch of more
        than ``CHUNKS_ABOVE`` examples through ``PER_EXAMPLE`` layers only."""
        return (isinstance(x, np.ndarray) and x.ndim > 0 and len(x) > CHUNKS_ABOVE
                and all(type(layer) in PER_EXAMPLE for layer in layers))

    @property
    def ran(self) -> bool:
        """Whether the last forward ran in chunks (its backward then does too)."""
        return self._chunks is not None

    def forget(self) -> None:
        """The last forward ran as one pass: a backward follows it, not the chunks."""
        self._chunks = self._out = None

    def forward(self, layers: list[LayerProtocol], x: np.ndarray) -> np.ndarray:
        """``x: (N, ...)`` -> the output of ``layers``, in chunks (``chunk_slices``).

        A ShapeError runs the whole batch as one pass to raise it, so that its message
        names the batch's shapes (and not a chunk's)."""
        self.forget()
        if self._layers != layers:                       # other layers: other state
            self._layers, self._own = list(layers), []
        slices = chunk_slices(len(x))
        while len(self._own) < len(slices):
            self._own.append([{} for _ in layers])
        chunks = [(part, [chunk_copy(layer, own) for layer, own in zip(layers, row,
                                                                       strict=True)])
                  for part, row in zip(slices, self._own, strict=False)]  # (own: maybe more)
        try:
            y = np.concatenate([forward_through(copies, x[part]) for part, copies in chunks])
        except ShapeError:
            forward_through(layers, x)
            raise
        self._chunks, self._out = chunks, (y.shape, y.dtype)
        where = f"in chunks of at most {TRAIN_CHUNK} examples"
        for layer in layers:                             # the chunks' copies ran, not they
            layer.ran_elsewhere(where)
        return y

    def backward(self, grad: Any, need_input_grad: bool) -> np.ndarray | None:
        """``grad`` (the gradient of the last forward's output) back through the chunks'
        copies; fills the layers' ``grads`` with the sums of the copies'. Returns the
        gradient of the whole input, or None as ``backward_through``."""
        problem = grad_mismatch(grad, *self._out)
        if problem:
            self._layers[-1]._fail(problem)
        grads = [backward_through(copies, grad[part], need_input_grad)
                 for part, copies in self._chunks]
        rows = [copies for _, copies in self._chunks]
        for j, layer in enumerate(self._layers):
            for key, total in layer.grads.items():
                np.copyto(total, rows[0][j].grads[key])
                for copies in rows[1:]:
                    total += copies[j].grads[key]
        return None if grads[0] is None else np.concatenate(grads)
