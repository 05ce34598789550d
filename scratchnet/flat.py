"""Flat parameters: a network's parameters as views into one array, its gradients into another.

An optimizer then updates every parameter with a few whole-array operations instead of a
few per parameter: the same arithmetic on the same numbers. ``Sequential`` gathers its
layers' parameters this way (:func:`gather_parameters`) and hands the result to an
optimizer through ``net.flat_parameters()``; the optimizer uses the flat arrays as long as
the network's ``named_params()`` and ``named_grads()`` still hold the views
(:meth:`FlatParameters.in_use`), and works parameter by parameter otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scratchnet.layers.base import Layer, LayerProtocol


@dataclass(frozen=True, eq=False)
class FlatParameters:
    """``params: (P,)`` and ``grads: (P,)``, and the views into them that a network's
    ``named_params()`` and ``named_grads()`` hold, in that order.

    Build it with :meth:`of`, which checks the layout the flat update relies on.
    """

    params: np.ndarray
    grads: np.ndarray
    param_views: tuple[np.ndarray, ...]
    grad_views: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, params: np.ndarray, grads: np.ndarray, named_params: Mapping[str, np.ndarray],
           named_grads: Mapping[str, np.ndarray]) -> FlatParameters | None:
        """The flat arrays of ``named_params`` / ``named_grads``, or None unless every
        parameter ``k`` and its gradient are C-ordered views of the same consecutive slice
        of ``params`` / ``grads``, in the dicts' order, together filling them.

        Only then does updating the flat arrays update each parameter with its own
        gradient: a view in another order (say, transposed) holds the same numbers at
        other places.
        """
        if list(named_params) != list(named_grads) or params.shape != grads.shape:
            return None
        start = 0
        for key, p in named_params.items():
            for view, flat in ((p, params), (named_grads[key], grads)):
                if not _is_slice_view(view, flat, start, p.shape):
                    return None
            start += p.size
        if start != params.size:
            return None
        return cls(params, grads, tuple(named_params.values()), tuple(named_grads.values()))

    def in_use(self, named_params: Mapping[str, np.ndarray],
               named_grads: Mapping[str, np.ndarray]) -> bool:
        """Whether the dicts still hold these very views (a layer may have put another
        array in their place since)."""
        return _same_objects(named_params.values(), self.param_views) and _same_objects(
            named_grads.values(), self.grad_views)


def _is_slice_view(view: np.ndarray, flat: np.ndarray, start: int, shape: tuple) -> bool:
    """Whether ``view`` is ``flat[start : start + size].reshape(shape)``, memory and all."""
    return (view.base is flat and view.shape == shape and view.flags.c_contiguous
            and view.ctypes.data == flat.ctypes.data + start * flat.itemsize)


def _same_objects(arrays, expected: Sequence[np.ndarray]) -> bool:
    arrays = list(arrays)
    return len(arrays) == len(expected) and all(
        a is b for a, b in zip(arrays, expected, strict=True))


def gather_parameters(layers: Sequence[LayerProtocol]) -> FlatParameters | None:
    """Move the layers' parameters into one array and their gradients into another.

    Each layer's ``params`` and ``grads`` then hold views into the two arrays (same shapes
    and values, layer by layer in order), and the layers keep writing their gradients into
    those views. Parameters of different dtypes are left where they are (None); so are
    all of them when a layer that is not a scratchnet ``Layer`` holds parameters (it may
    compute with arrays of its own, e.g. ``self.W``, that its ``params`` name: replacing
    them would leave it computing with the old ones).
    """
    owners = [(layer, key) for layer in layers for key in layer.params]
    if any(not isinstance(layer, Layer) for layer, _ in owners):
        return None
    if len({layer.params[key].dtype for layer, key in owners}) != 1:
        return None
    dtype = owners[0][0].params[owners[0][1]].dtype
    size = sum(layer.params[key].size for layer, key in owners)
    flat_params, flat_grads = np.empty(size, dtype), np.empty(size, dtype)
    param_views, grad_views = {}, {}
    start = 0
    for i, (layer, key) in enumerate(owners):
        shape, end = layer.params[key].shape, start + layer.params[key].size
        for arrays, flat, views in ((layer.params, flat_params, param_views),
                                    (layer.grads, flat_grads, grad_views)):
            view = flat[start:end].reshape(shape)
            view[...] = arrays[key]
            arrays[key] = views[i] = view
        start = end
    return FlatParameters.of(flat_params, flat_grads, param_views, grad_views)
