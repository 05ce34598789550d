"""What every layer shares: the layer protocol any layer follows, and scratchnet's base class
with its parameters and input checks."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
FLOAT_DTYPE_NAMES = tuple(dt.name for dt in FLOAT_DTYPES)   # "float32", "float64"


class ShapeError(ValueError):
    """An array given to a layer or loss has the wrong rank, size, dtype or labels."""


def as_float_dtype(dtype: Any) -> np.dtype:
    """Check that ``dtype`` is float32 or float64 and return it as an ``np.dtype``."""
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def default_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """The generator to initialize weights with (a fresh unseeded one if none is given)."""
    return rng if rng is not None else np.random.default_rng()


def fmt_shape(shape: tuple[int, ...]) -> str:
    """``(4, 24, 24)`` -> ``'4x24x24'``, as the seed's tables write shapes."""
    return "x".join(str(s) for s in shape)


@runtime_checkable
class LayerProtocol(Protocol):
    """What a layer is, for ``Sequential``, ``reference.compare`` and ``reference.check_layer``:
    scratchnet's layers follow it, and so may anyone's class, without subclassing anything.

    * ``forward(x) -> y`` and ``backward(grad_y) -> grad_x``, batch first, as PyTorch: a
      convolution or pooling takes ``x: (N, C, H, W)``, a dense layer ``x: (N, in)``, a ReLU
      any shape. ``backward`` follows the ``forward`` it differentiates and returns the
      gradient of the loss with respect to that ``x``, given ``grad_y`` with respect to ``y``.
    * ``params`` and ``grads``: dicts with the same keys, PyTorch's (``weight``, ``bias``)
      in PyTorch's layout (a convolution's ``weight: (C_out, C_in, kh, kw)``, a dense
      layer's ``weight: (out, in)``), empty for a layer without weights. The arrays in
      ``params`` are the weights the layer computes with: others write into them in place
      (an optimizer's step, a check setting its weights). ``backward`` leaves in ``grads``
      the gradients of its ``forward``'s batch, summed over the batch (not averaged: the
      loss averages).
    * optional ``kind``: ``"conv2d"``, ``"maxpool2d"``, ``"dense"``, ``"relu"``,
      ``"identity"`` or ``"flatten"`` (and, without a twin yet: ``"dropout"``,
      ``"batchnorm1d"``, ``"batchnorm2d"``, ``"layernorm"``, ``"avgpool2d"``,
      ``"sigmoid"``, ``"tanh"``, ``"leaky-relu"``); a network's PyTorch twin is built
      from it and from the parameters' shapes (``reference.register_twin``), with the
      hyperparameters the shapes do not show read from attributes named as scratchnet's:
      ``stride`` and ``padding`` for a convolution (default 1 and 0), ``kernel_size`` and
      ``stride`` for a pooling (``stride`` defaults to ``kernel_size``).
    * optional ``infer(x)``: ``forward`` when no ``backward`` follows (``Sequential.infer``
      uses ``forward`` when it is missing).
    * optional ``training``: True (the default) in training mode, False in eval mode, as
      PyTorch's modules; ``Sequential.train()`` / ``eval()`` set it on every layer that has
      it. Dropout and batch norm compute otherwise in the two modes; the other layers
      ignore it.
    * optional ``buffers``: a dict of the arrays a layer keeps that are not parameters
      (no gradient), with PyTorch's keys, e.g. a batch norm's ``running_mean``,
      ``running_var`` and ``num_batches_tracked``; ``Sequential.named_buffers()`` gathers
      them and checkpoints save them.

    Per kind, the constructor takes the leading arguments of scratchnet's class:
    ``Conv2D(in_channels, out_channels, kernel_size, stride=1, padding=0)``,
    ``MaxPool2D(kernel_size, stride=None)``, ``Dense(in_features, out_features)``,
    ``ReLU()``; further keywords (``bias``, ``input_shape``, ``dtype``) as scratchnet's
    when the class has them. ``reference.check_layer`` builds a class this way and checks
    only the configurations whose arguments the class takes. A loss follows
    :class:`LossProtocol`.
    """

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def backward(self, grad_y: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class LossProtocol(Protocol):
    """A loss, as ``scratchnet.SoftmaxCrossEntropy`` (kind ``"softmax-ce"``):
    ``forward(logits: (N, K), labels: (N,) integers) -> float``, the mean over the batch,
    and ``backward() -> grad_logits: (N, K)``, the gradient of that mean. The constructor
    takes no arguments."""

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float: ...

    def backward(self) -> np.ndarray: ...


class Layer:
    """scratchnet's layers' base class: ``forward(x) -> y`` and ``backward(grad_y) -> grad_x``,
    following :class:`LayerProtocol`.

    ``params`` and ``grads`` are dicts with the same keys and shapes; the arrays in
    ``params`` are the layer's live weights (write into them to change the layer).
    ``grads`` holds the gradients of the last ``backward``, summed over the batch; each
    ``backward`` writes them into the same arrays (which may be views into one array
    shared by a whole network, see ``scratchnet.flat.gather_parameters``).
    ``name`` is set by the network that holds the layer and is used in error messages;
    ``kind`` says what the layer computes (see :class:`LayerProtocol`).
    ``training`` is the mode (True: training, the default; False: eval), set by
    :meth:`train` and :meth:`eval`; ``buffers`` holds the arrays kept beside the parameters
    (empty but for batch norm), updated in place.
    """

    kind: str | None = None
    _ran_elsewhere: str | None = None     # see ran_elsewhere

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.name: str = type(self).__name__
        self.buffers: dict[str, np.ndarray] = {}
        self.training: bool = True
        self._out_shape: tuple[int, ...] | None = None
        self._out_dtype: np.dtype | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        """The constructor arguments shown by ``repr``."""
        return ""

    def train(self, mode: bool = True) -> Layer:
        """Set training mode (``mode=True``) or eval mode (False), as PyTorch's
        ``Module.train``; returns the layer."""
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """Set eval mode: ``train(False)``."""
        return self.train(False)

    @property
    def label(self) -> str:
        """How errors name this layer, e.g. ``conv1 (Conv2D)``."""
        kind = type(self).__name__
        return kind if self.name == kind else f"{self.name} ({kind})"

    # Subclasses implement these three.
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-example output shape for a per-example ``input_shape`` (no batch axis)."""
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> np.ndarray:
        """``forward(x)`` when no ``backward`` will follow. Layers that would record
        something for the backward pass override it to skip that work."""
        return self.forward(x)

    # ------------------------------------------------------------------ checks
    def _fail(self, message: str) -> None:
        raise ShapeError(f"{self.label}: {message}")

    def _check_input(self, x: Any, expected: str, ndim: int | None = None) -> None:
        """Check ``x`` is a float array of rank ``ndim`` (any rank if None); ``expected``
        describes its shape."""
        if not isinstance(x, np.ndarray):
            self._fail(f"expected a NumPy array {expected}, got {type(x).__name__}")
        if ndim is not None and x.ndim != ndim:
            self._fail(f"expected input {expected}, got an array of shape {x.shape}")
        if x.dtype not in FLOAT_DTYPES:
            self._fail(f"expected float32 or float64 input, got {x.dtype}")
        dtype = getattr(self, "dtype", None)
        if dtype is not None and x.dtype != dtype:
            self._fail(
                f"expected {dtype} input to match the layer's weights, got {x.dtype} "
                f"(convert with x.astype(np.{dtype}))"
            )

    def _remember_output(self, y: np.ndarray) -> np.ndarray:
        self._out_shape, self._out_dtype = y.shape, y.dtype
        self._ran_elsewhere = None
        return y

    def ran_elsewhere(self, where: str) -> None:
        """Record that this layer's computation last ran inside a network, ``where`` (fused
        with another layer, or in chunks), not in its own ``forward``. What its own
        last forward kept is then out of date, so its ``backward`` fails, naming ``where``,
        until its own ``forward`` runs again."""
        self._ran_elsewhere = where

    def _check_grad(self, grad_y: Any, cache: Any) -> None:
        """Check ``backward`` follows this layer's own ``forward`` and ``grad_y`` matches
        that output."""
        if self._ran_elsewhere is not None:
            self._fail(f"backward cannot follow: the last forward ran inside a network, "
                       f"{self._ran_elsewhere}; call the network's backward, or this layer's "
                       "own forward first")
        if cache is None:
            self._fail("backward called before forward")
        problem = grad_mismatch(grad_y, self._out_shape, self._out_dtype)
        if problem:
            self._fail(problem)


def grad_mismatch(grad_y: Any, out_shape: tuple[int, ...] | None, out_dtype: np.dtype | None
                  ) -> str | None:
    """What is wrong with ``grad_y`` as the gradient of an output of ``out_shape`` and
    ``out_dtype`` (None: nothing). ``Layer._check_grad`` says it of a layer's last output,
    ``scratchnet.chunks`` of a network's logits computed in chunks."""
    if not isinstance(grad_y, np.ndarray):
        return f"expected grad_y as a NumPy array, got {type(grad_y).__name__}"
    if grad_y.shape != out_shape:
        return (f"expected grad_y of shape {out_shape} (the last forward's output), "
                f"got {grad_y.shape}")
    if grad_y.dtype != out_dtype:
        return f"expected {out_dtype} grad_y like the output, got {grad_y.dtype}"
    return None
