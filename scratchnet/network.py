"""Sequential networks, the seed's two networks, and their summary table."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping

import numpy as np
import pandas as pd

from scratchnet import kernels
from scratchnet.chunks import Chunks, backward_through, forward_through
from scratchnet.flat import FlatParameters, gather_parameters
from scratchnet.layers import (
    BatchNorm2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    MaxPool2D,
    ReLU,
)
from scratchnet.layers.base import LayerProtocol, ShapeError, as_float_dtype, fmt_shape
from scratchnet.layers.pool import MaxPoolReLU
from scratchnet.threads import network_threads

#: Images per pass in ``Sequential.infer`` in float32; float64 passes half as many, so that
#: a pass's arrays take the same bytes (see ``infer_chunk``). Training passes run in chunks
#: too, of ``scratchnet.chunks.TRAIN_CHUNK`` images above ``scratchnet.chunks.CHUNKS_ABOVE``.
INFER_CHUNK = 128

# Short names for auto-naming layers by kind (conv1, relu1, pool1, ..., fc1), as the seed's
# tables do; a layer of no known kind is named after its class.
_PREFIX = {"conv2d": "conv", "maxpool2d": "pool", "dense": "fc", "relu": "relu",
           "identity": "identity", "flatten": "flatten", "dropout": "dropout",
           "batchnorm1d": "bn", "batchnorm2d": "bn", "layernorm": "ln", "avgpool2d": "avgpool",
           "sigmoid": "sigmoid", "tanh": "tanh", "leaky-relu": "leakyrelu"}


def infer_chunk(dtype: np.dtype) -> int:
    """Images per pass of ``Sequential.infer`` for images of ``dtype``: as many as make
    the bytes of ``INFER_CHUNK`` float32 images (128 float32, 64 float64)."""
    return max(1, INFER_CHUNK * 4 // np.dtype(dtype).itemsize)


class LayerDict(MutableMapping):
    """``net.layers``: a network's layers by name, in order.

    Putting a layer in (``net.layers["conv2"] = other``) or deleting one rebuilds the
    network's ``run_order`` and flat parameters, so the layers it holds are the ones that
    run. The layer put in must follow ``LayerProtocol``; it is given the name as its
    ``name``.
    """

    def __init__(self, changed: Callable[[], None]) -> None:
        self._layers: dict[str, LayerProtocol] = {}
        self._changed = changed

    def __getitem__(self, name: str) -> LayerProtocol:
        return self._layers[name]

    def __setitem__(self, name: str, layer: LayerProtocol) -> None:
        self._put(name, layer)
        self._changed()

    def __delitem__(self, name: str) -> None:
        del self._layers[name]
        self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __repr__(self) -> str:
        return f"LayerDict({self._layers!r})"

    # the dict's own (read-only) views: these run at every step
    def keys(self):
        return self._layers.keys()

    def items(self):
        return self._layers.items()

    def values(self):
        return self._layers.values()

    def _put(self, name: str, layer: LayerProtocol) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"Sequential: layer names must be unique and dot-free: {name!r}")
        require_layer(layer, name)
        layer.name = name
        self._layers[name] = layer


def require_layer(layer: object, what: str) -> None:
    """Raise TypeError naming ``what`` unless ``layer`` follows ``LayerProtocol``."""
    if not isinstance(layer, LayerProtocol):
        missing = [a for a in ("forward", "backward", "params", "grads") if not hasattr(layer, a)]
        raise TypeError(
            f"Sequential: {what}: expected a layer (forward, backward, params and grads; see "
            f"scratchnet.layers.base.LayerProtocol), got {type(layer).__name__} without "
            f"{', '.join(missing)}")


class Sequential:
    """Layers applied in order.

    ``Sequential(Conv2D(...), ReLU(), ...)`` names the layers ``conv1, relu1, ...`` (a count
    per kind); pass ``(name, layer)`` pairs to choose the names yourself. A layer is any
    object that follows ``scratchnet.layers.base.LayerProtocol``: scratchnet's or anyone's.

    ``forward(x) -> logits``; ``backward(grad_logits) -> grad_x`` fills every layer's grads.
    ``named_params()`` / ``named_grads()`` give flat dicts keyed ``"<layer>.<param>"`` (e.g.
    ``"conv1.weight"``) in layer order; their arrays are the live ones. When all the
    parameters are scratchnet layers' and share a dtype, they are views into one array,
    ``flat_params``, in that order, and the gradients views into ``flat_grads``
    (``flat_parameters()`` hands both to an optimizer; see ``scratchnet.flat``).
    ``net.layers`` (a :class:`LayerDict`) holds the layers as given; a layer put in its
    place there is the one that runs.

    **Modes**, as PyTorch's: ``train()`` and ``eval()`` set ``training`` on the network
    and on every layer that has it (scratchnet's all have; dropout and batch norm compute
    otherwise in eval mode). ``forward`` runs each layer in its mode, as calling a PyTorch
    model does. ``infer`` and ``predict`` are inference: they always run the layers in
    eval mode (and put each layer's mode back afterwards), whatever the network's mode, as
    PyTorch after ``model.eval()``: the running statistics, no dropout, nothing updated.
    That is what evaluating means, and it is also what lets ``infer`` work in chunks: only
    in eval mode is each example's output its own, independent of the batch it is in.
    ``named_buffers()`` gives the layers' buffers (a batch norm's running statistics) keyed
    as PyTorch's ``state_dict()``, e.g. ``"bn1.running_mean"``.
    """

    def __init__(self, *layers: LayerProtocol | tuple[str, LayerProtocol]) -> None:
        counts: dict[str, int] = {}
        self.training = True
        self.layers = LayerDict(self._layers_changed)
        for position, item in enumerate(layers, 1):
            name, layer = item if isinstance(item, tuple) else (None, item)
            require_layer(layer, name or f"layer {position}")
            if name is None:
                prefix = _PREFIX.get(getattr(layer, "kind", None), type(layer).__name__.lower())
                counts[prefix] = counts.get(prefix, 0) + 1
                name = f"{prefix}{counts[prefix]}"
            if name in self.layers:
                raise ValueError(f"Sequential: layer names must be unique and dot-free: {name!r}")
            self.layers._put(name, layer)
        self._layers_changed()

    def _layers_changed(self) -> None:
        """Derive what depends on the layers: the run order and the flat parameters."""
        layers = list(self.layers.values())
        self.run_order: list[LayerProtocol] = run_order(layers)
        self._flat = gather_parameters(layers)
        self._chunks = Chunks()

    def flat_parameters(self) -> FlatParameters | None:
        """The one array all parameters are views into and the one of the gradients, for
        an optimizer to update at once (``scratchnet.flat``); None when the parameters
        could not be gathered (different dtypes, or a layer that is not scratchnet's)."""
        return self._flat

    @property
    def flat_params(self) -> np.ndarray | None:
        """``(P,)``: every parameter, in ``named_params()`` order (None: not gathered)."""
        return None if self._flat is None else self._flat.params

    @property
    def flat_grads(self) -> np.ndarray | None:
        """``(P,)``: every gradient, in ``named_grads()`` order (None: not gathered)."""
        return None if self._flat is None else self._flat.grads

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers.values())

    def __getitem__(self, name: str) -> Layer:
        return self.layers[name]

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({name}): {layer!r}" for name, layer in self.layers.items())
        return f"Sequential(\n{inner}\n)"

    @property
    def dtype(self) -> np.dtype | None:
        """The dtype of the weights (None for a network without weights)."""
        for layer in self:
            if getattr(layer, "dtype", None) is not None:
                return layer.dtype
        return None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, H, W)`` -> ``logits: (N, K)``; the layers run in ``run_order``,
        with NumPy's BLAS on ``network_threads`` (``scratchnet/threads.py``).

        A large batch through layers that treat each example on its own runs in chunks,
        which keeps each layer's arrays in the CPU's cache; the numbers are the same (see
        ``scratchnet.chunks``)."""
        with network_threads():
            if Chunks.takes(self.run_order, x):
                return self._chunks.forward(self.run_order, x)
            self._chunks.forget()
            return forward_through(self.run_order, x)

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """``grad: (N, K)`` -> ``grad_x: (N, C, H, W)``; fills every layer's ``grads``.

        With ``need_input_grad=False`` a first Conv2D skips its input gradient (training
        never needs it) and None is returned. Runs in chunks when the last forward did.
        """
        with network_threads():
            if self._chunks.ran:
                return self._chunks.backward(grad, need_input_grad)
            return backward_through(self.run_order, grad, need_input_grad)

    def train(self, mode: bool = True) -> Sequential:
        """Set training mode (``mode=True``) or eval mode (False) on the network and every
        layer that has a ``training`` attribute, as PyTorch's ``Module.train``; returns the
        network."""
        self.training = bool(mode)
        for layer in self.layers.values():
            if hasattr(layer, "training"):
                layer.training = self.training
        return self

    def eval(self) -> Sequential:
        """Set eval mode: ``train(False)``."""
        return self.train(False)

    def named_buffers(self) -> dict[str, np.ndarray]:
        """Every layer's ``buffers`` (the arrays kept beside the parameters, e.g. a batch
        norm's ``running_mean``), keyed ``"<layer>.<buffer>"`` as PyTorch's
        ``state_dict()``, in layer order; the arrays are the live ones."""
        return {f"{n}.{k}": v for n, layer in self.layers.items()
                for k, v in getattr(layer, "buffers", {}).items()}

    def load_buffers(self, buffers: dict[str, np.ndarray]) -> None:
        """Copy ``buffers`` (keys as ``named_buffers()``) into the layers' buffers."""
        _load("load_buffers", self.named_buffers(), buffers)

    def named_params(self) -> dict[str, np.ndarray]:
        return {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.params.items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        return {f"{n}.{k}": v for n, layer in self.layers.items() for k, v in layer.grads.items()}

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy ``params`` (keys as ``named_params()``) into the network's weights."""
        _load("load_params", self.named_params(), params)

    def num_params(self) -> int:
        return sum(v.size for v in self.named_params().values())

    def infer(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, H, W)`` -> ``logits: (N, K)``, when no backward will follow.

        The numbers of ``forward`` in eval mode (each image's logits then do not depend
        on the others), whatever the network's mode: every layer runs in eval mode for the
        pass and gets its own mode back after it (see the class docstring). Computed
        ``infer_chunk(x.dtype)`` images at a time through each layer's ``infer``, which
        skips what only the backward pass needs. Chunks keep a pass's arrays close to the
        CPU's caches (``reports/speed/history.md`` has the chunk sizes measured).
        """
        modes = [(layer, layer.training) for layer in self.run_order
                 if hasattr(layer, "training")]
        try:
            for layer, _ in modes:
                layer.training = False
            chunk = infer_chunk(x.dtype)
            chunks = []
            with network_threads():
                for i in range(0, max(len(x), 1), chunk):     # an empty batch: one empty pass
                    h = x[i : i + chunk]
                    for layer in self.run_order:
                        h = layer.infer(h) if hasattr(layer, "infer") else layer.forward(h)
                    chunks.append(h)
        finally:
            for layer, mode in modes:
                layer.training = mode
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted classes ``(N,)`` for ``x: (N, C, H, W)``."""
        return self.infer(x).argmax(axis=1)

    def summary(self, input_shape: tuple[int, ...]) -> pd.DataFrame:
        """One row per layer: input and output shape of one example, parameters and counts.

        Shapes are written as the seed's tables write them, e.g. ``4x24x24``.
        """
        rows, shape = [], tuple(input_shape)
        for name, layer in self.layers.items():
            out = layer.output_shape(shape)
            rows.append({
                "layer": name,
                "type": type(layer).__name__,
                "input": fmt_shape(shape),
                "output": fmt_shape(out),
                "weight": fmt_shape(layer.params["weight"].shape) if "weight" in layer.params
                else "",
                "bias": fmt_shape(layer.params["bias"].shape) if "bias" in layer.params else "",
                "params": sum(v.size for v in layer.params.values()),
            })
            shape = out
        return pd.DataFrame(rows).set_index("layer")


def _load(who: str, own: dict[str, np.ndarray], values: dict[str, np.ndarray]) -> None:
    """Copy ``values`` into the arrays ``own`` (same keys, same shapes), in place."""
    if set(own) != set(values):
        missing, extra = sorted(set(own) - set(values)), sorted(set(values) - set(own))
        raise ValueError(f"{who}: keys differ: missing {missing}, unexpected {extra}")
    for key, value in values.items():
        value = np.asarray(value)
        if value.shape != own[key].shape:
            raise ValueError(f"{who}: {key} has shape {value.shape}, expected {own[key].shape}")
        own[key][...] = value


def run_order(layers: list[LayerProtocol]) -> list[LayerProtocol]:
    """The order a network runs ``layers`` in: theirs, except that a ReLU directly
    followed by a MaxPool2D runs after it, fused into it as one ``MaxPoolReLU``.

    Only scratchnet's very ``ReLU`` and ``MaxPool2D`` (``type(layer) is ReLU``) are
    fused or swapped: a subclass or anyone else's class may compute something else, and
    its own ``forward`` and ``backward`` must be the ones that run.

    The two commute. ReLU is monotone, so the largest of ``relu(a), relu(b), ...`` is
    ``relu`` of the largest: pooling first gives the same numbers, and the ReLU then
    works on a quarter of them (2x2 windows). The gradients are the same too. If a
    window's maximum is positive (or NaN), the ReLU leaves it where it is, so both orders
    send the gradient to the same element, through a ReLU derivative of 1. If it is 0 or
    negative, the ReLU's derivative there is 0 and neither order passes anything on.
    Fused, the pooling kernel applies the ReLU in place and marks such windows, so the
    backward pass needs no ReLU step at all (``kernels.maxpool_forward(relu=True)``).

    The seed network has two such pairs (``relu1, pool1`` and ``relu2, pool2``).
    ``net.layers`` keeps the layers as given, each layer works alone as before, and
    ``reference.compare`` still runs them one by one in that order; only ``forward``,
    ``backward`` and ``infer`` use this one. Windows too large for the fused kernel
    (``kernels.max_pool_window(relu=True)``) are swapped, not fused.
    """
    order: list[LayerProtocol] = []
    for layer in layers:
        before = order[-1] if order else None
        if type(layer) is MaxPool2D and type(before) is ReLU:
            fused = layer.kernel_size <= kernels.max_pool_window(relu=True)
            order[-1:] = [MaxPoolReLU(before, layer)] if fused else [layer, before]
        else:
            order.append(layer)
    return order


VARIANTS = ("full", "shallow", "full-bn-dropout")

#: The dropout probability of ``seed_network("full-bn-dropout")``: PyTorch's default, the
#: rate Srivastava et al. (2014) use for fully connected layers.
DROPOUT_P = 0.5


def seed_network(
    variant: str = "full",
    bias: str | None = "untied",
    dtype: type | np.dtype = np.float64,
    seed: int = 0,
    init: str = "torch",
) -> Sequential:
    """The seed report's network for 1x28x28 MNIST images.

    ``"full"`` (the seed's Tables 2-7)::

        conv1 4@5x5 -> relu1 -> pool1 2x2 -> conv2 8@5x5 -> relu2 -> pool2 2x2 -> flatten1
        -> fc1 128 -> relu3 -> fc2 10 -> identity1        (1x28x28 -> 4x24x24 -> 4x12x12
                                                           -> 8x8x8 -> 8x4x4 -> 128 -> 10)

    ``"shallow"`` (what the seed's author actually trained)::

        conv1 4@5x5 -> relu1 -> pool1 2x2 -> flatten1 (576) -> fc1 128 -> relu2 -> fc2 10

    ``"full-bn-dropout"``: ``"full"`` with batch norm after each convolution (before its
    ReLU and pooling) and dropout (``DROPOUT_P``) before the last layer::

        conv1 -> bn1 -> relu1 -> pool1 -> conv2 -> bn2 -> relu2 -> pool2 -> flatten1
        -> fc1 -> relu3 -> dropout1 -> fc2 -> identity1

    Its convolutions and dense layers get the same initial weights as ``"full"``'s for the
    same ``seed`` (batch norm starts at weight 1, bias 0, and draws nothing); the dropout
    masks are drawn from the same generator, after the weights.

    Args:
        variant: one of ``VARIANTS``: ``"full"``, ``"shallow"`` or ``"full-bn-dropout"``.
        bias: the convolutions' bias: ``"untied"`` (the seed's, one per output position),
            ``"tied"`` (one per channel, as PyTorch) or None.
        dtype: ``np.float64`` or ``np.float32``.
        seed: seeds the initialization (and the dropout masks); the same seed gives the
            same weights.
        init: ``"torch"`` (PyTorch's default initialization, the default) or ``"he"``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"seed_network: variant must be one of {VARIANTS}, got {variant!r}")
    dtype = as_float_dtype(dtype)
    rng = np.random.default_rng(seed)
    common = {"dtype": dtype, "rng": rng, "init": init}
    if variant == "shallow":
        return Sequential(
            Conv2D(1, 4, 5, bias=bias, input_shape=(1, 28, 28), **common),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dense(576, 128, **common),
            ReLU(),
            Dense(128, 10, **common),
        )
    norm = variant == "full-bn-dropout"
    return Sequential(
        Conv2D(1, 4, 5, bias=bias, input_shape=(1, 28, 28), **common),
        *([BatchNorm2D(4, dtype=dtype)] if norm else []),
        ReLU(),
        MaxPool2D(2),
        Conv2D(4, 8, 5, bias=bias, input_shape=(4, 12, 12), **common),
        *([BatchNorm2D(8, dtype=dtype)] if norm else []),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Dense(128, 128, **common),
        ReLU(),
        *([Dropout(DROPOUT_P, rng=rng)] if norm else []),
        Dense(128, 10, **common),
        Identity(),
    )


__all__ = ["DROPOUT_P", "VARIANTS", "Sequential", "ShapeError", "seed_network"]
