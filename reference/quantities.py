"""A layer's or a loss's quantities beside PyTorch's: what every comparison compares.

A *quantity* is one array a layer computes: its ``output``, its ``grad input`` (the
gradient ``backward`` returns) and ``grad <key>`` for every parameter; for a loss, its
``loss`` and ``grad logits``. The functions below compute them for one implementation
(``layer_quantities``, ``loss_quantities``), for PyTorch (``torch_layer_quantities``,
``torch_loss_quantities``), or both at once as ``quantity -> (ours, torch's)`` pairs
(``layer_and_torch``, ``loss_and_torch``); ``disagreeing`` names the pairs that do not agree
under the project's one rule, :mod:`reference.agreement`. The tests' comparison helper
(``tests/torch_check.py``) and ``reference.check_layer`` both stand on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from reference.agreement import agree

TorchFn = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
Quantities = dict[str, np.ndarray]
Pairs = dict[str, tuple[np.ndarray, np.ndarray]]


def layer_quantities(layer: Any, x: np.ndarray, grad_y: np.ndarray | None) -> Quantities:
    """``output`` of ``layer`` run on ``x`` and, unless ``grad_y`` is None, the
    ``backward_quantities`` of ``grad_y`` (all copies)."""
    quantities = {"output": np.array(layer.forward(x))}
    if grad_y is not None:
        quantities.update(backward_quantities(layer, grad_y))
    return quantities


def backward_quantities(layer: Any, grad_y: np.ndarray) -> Quantities:
    """``grad input`` (what ``layer.backward(grad_y)`` returns, after its ``forward``) and
    ``grad <key>`` for every key of ``layer.grads``, as copies."""
    quantities = {"grad input": np.array(layer.backward(grad_y))}
    for key, grad in getattr(layer, "grads", {}).items():
        quantities[f"grad {key}"] = np.array(grad)
    return quantities


def torch_layer_quantities(torch_fn: TorchFn, x: np.ndarray, params: dict[str, np.ndarray],
                           grad_y: np.ndarray | None) -> Quantities:
    """The same quantities of ``torch_fn(x, params)`` (a ``torch.nn.functional`` expression
    of the layer, or ``reference.twin_function``), back-propagating ``grad_y`` (output
    only when it is None)."""
    xt = torch.from_numpy(np.array(x)).requires_grad_(True)
    pt = {k: torch.from_numpy(np.array(v)).requires_grad_(True) for k, v in params.items()}
    yt = torch_fn(xt, pt)
    quantities = {"output": yt.detach().numpy()}
    if grad_y is None:
        return quantities
    yt.backward(torch.from_numpy(np.array(grad_y)))
    quantities["grad input"] = xt.grad.numpy()
    for key, p in pt.items():
        quantities[f"grad {key}"] = p.grad.numpy()
    return quantities


def upstream_gradient(y: np.ndarray, seed: int) -> np.ndarray:
    """The random upstream gradient the comparisons send back into an output ``y``
    (standard normal, drawn from ``seed``: not ones, which would hide mix-ups)."""
    return np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)


def layer_and_torch(layer: Any, x: np.ndarray, torch_fn: TorchFn, seed: int = 0) -> Pairs:
    """``output``, ``grad input`` and ``grad <key>`` for every parameter, of ``layer`` and
    of ``torch_fn`` on the same input, weights and random upstream gradient (drawn from
    ``seed``, standard normal: not ones, which would hide mix-ups).

    When the two outputs differ in shape there is no common upstream gradient, and only
    ``output`` is returned.
    """
    y = np.array(layer.forward(x))
    torch_y = torch_layer_quantities(torch_fn, x, layer.params, None)["output"]
    if y.shape != torch_y.shape:
        return {"output": (y, torch_y)}
    grad_y = upstream_gradient(y, seed)
    ours = {"output": y, **backward_quantities(layer, grad_y)}
    theirs = torch_layer_quantities(torch_fn, x, layer.params, grad_y)
    return {q: (ours[q], theirs[q]) for q in theirs}


def loss_quantities(loss_fn: Any, logits: np.ndarray, labels: np.ndarray) -> Quantities:
    """``loss`` and ``grad logits`` of ``loss_fn`` (a ``SoftmaxCrossEntropy``-like object)."""
    loss = loss_fn.forward(logits, labels)
    return {"loss": np.float64(loss), "grad logits": np.array(loss_fn.backward())}


def torch_loss_quantities(logits: np.ndarray, labels: np.ndarray) -> Quantities:
    """``loss`` and ``grad logits`` of ``F.cross_entropy`` (the batch mean)."""
    lt = torch.from_numpy(np.array(logits)).requires_grad_(True)
    t_loss = torch.nn.functional.cross_entropy(lt, torch.from_numpy(labels.astype(np.int64)))
    t_loss.backward()
    return {"loss": t_loss.detach().numpy(), "grad logits": lt.grad.numpy()}


def loss_and_torch(loss_fn: Any, logits: np.ndarray, labels: np.ndarray) -> Pairs:
    """``loss`` and ``grad logits`` of ``loss_fn`` and of ``F.cross_entropy`` on the same
    logits and labels."""
    ours = loss_quantities(loss_fn, logits, labels)
    theirs = torch_loss_quantities(logits, labels)
    return {q: (ours[q], theirs[q]) for q in theirs}


def disagreeing(pairs: Pairs, dtype: np.dtype | type) -> list[str]:
    """The quantities of ``pairs`` whose two arrays differ in shape or do not agree under
    ``reference.agreement`` for ``dtype``, in order."""
    return [name for name, (ours, theirs) in pairs.items()
            if np.shape(ours) != np.shape(theirs) or not agree(ours, theirs, dtype)]
