"""The one comparison helper every test against PyTorch goes through.

``assert_layer_matches_torch(layer, x, torch_fn)`` runs ``layer`` (in its mode: set
``layer.eval()`` first to compare eval mode) forward on ``x`` and
backward on a random upstream gradient, runs ``torch_fn`` (a ``torch.nn.functional``
expression of the same layer) on the same input and weights with the same upstream
gradient, and asserts that the output, the input gradient and every parameter gradient
agree under the project's one rule, :mod:`reference.agreement`. ``torch_fn`` may read the
layer after its forward: a dropout's ``torch_fn`` applies the mask the layer drew,
``x * torch.from_numpy(layer.mask) / (1 - p)``.

The ``*_and_torch`` functions compute the same pairs without asserting, as an ordered
dict ``quantity -> (ours, torch's)`` (for a layer, a loss, an optimizer, gradient
clipping), and ``disagreeing`` names the quantities that do not agree: what a test needs
that expects an implementation to fail, and where. The layer's and the loss's come from
:mod:`reference.quantities`, which ``reference.check_layer`` stands on too. ``layer_and_naive`` and
``naive_and_torch`` pair a layer's quantities with those of ``scratchnet.naive`` (the
seed's equations as loops), and ``assert_all_agree`` asserts on any such pairs.
``assert_network_matches_twin`` is ``assert_layer_matches_torch`` for a whole network
against its PyTorch twin (``reference.to_torch``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from reference.agreement import assert_agree, errors
from reference.quantities import (
    Pairs,
    TorchFn,
    disagreeing,
    layer_and_torch,
    loss_and_torch,
    upstream_gradient,
)
from reference.twin import to_torch
from scratchnet import Conv2D, Sequential, SoftmaxCrossEntropy
from scratchnet.layers import Layer

#: A layer's quantities (named as ``layer_and_torch`` names them) as ``scratchnet.naive``
#: computes them from the layer's configuration and weights: ``(layer, x, grad_y) -> dict``.
NaiveFn = Callable[[Layer, np.ndarray, np.ndarray], dict[str, np.ndarray]]

__all__ = ["WORST", "assert_all_agree", "assert_layer_matches_torch",
           "assert_network_matches_twin", "check", "clip_and_torch", "disagreeing",
           "layer_and_naive", "layer_and_torch", "loss_and_torch", "naive_and_torch",
           "optimizer_and_torch", "upstream_gradient"]

#: The largest scaled error seen per dtype in this test session: ``dtype name ->
#: (max abs error / max(1, max |torch value|), what)``; ``tests/conftest.py`` prints it.
WORST: dict[str, tuple[float, str]] = {}


def remember_worst(dtype_name: str, scaled_err: float, what: str) -> None:
    """Keep ``(scaled_err, what)`` in ``WORST`` if it is the largest error of its dtype yet."""
    if np.isfinite(scaled_err) and scaled_err > WORST.get(dtype_name, (-1.0, ""))[0]:
        WORST[dtype_name] = (scaled_err, what)


def check(ours: np.ndarray, theirs: np.ndarray, dtype: np.dtype, what: str) -> None:
    """``assert_agree``, remembering the worst error seen for the session summary."""
    abs_err, _, scale = errors(ours, theirs)
    remember_worst(np.dtype(dtype).name, abs_err / scale, what)
    assert_agree(ours, theirs, dtype, what)


def assert_layer_matches_torch(
    layer: Layer, x: np.ndarray, torch_fn: TorchFn, seed: int = 0
) -> None:
    """Assert ``layer`` computes what ``torch_fn`` computes, forward and backward."""
    pairs = layer_and_torch(layer, x, torch_fn, seed)
    dtype = x.dtype
    y, y_torch = pairs["output"]
    assert y.shape == y_torch.shape, f"{layer!r} output shape {y.shape} vs {y_torch.shape}"
    check(y, y_torch, dtype, f"{layer!r} output")
    grad_x = pairs["grad input"][0]
    for name, got in (("output", y), ("input gradient", grad_x)):   # float32 stays float32
        assert got.dtype == dtype, f"{layer!r} {name} dtype {got.dtype}, input {dtype}"
    check(*pairs["grad input"], dtype, f"{layer!r} input gradient")
    assert set(layer.grads) == set(layer.params)
    for key, grad in layer.grads.items():
        assert grad.shape == layer.params[key].shape, f"{key} grad shape"
        assert grad.dtype == layer.params[key].dtype, f"{key} grad dtype"
        check(grad, pairs[f"grad {key}"][1], dtype, f"{layer!r} {key} gradient")
    # The forward pass for inference (skips what backward needs) gives the same output, in
    # the layer's mode. A layer that draws at random (dropout) is handed the mask its forward
    # drew (``use_mask``); a training-mode batch norm updates its running statistics again.
    if getattr(layer, "mask", None) is not None and hasattr(layer, "use_mask"):
        layer.use_mask(layer.mask)
    check(layer.infer(x), y_torch, dtype, f"{layer!r} infer output")


def assert_network_matches_twin(
    net: Sequential, x: np.ndarray, labels: np.ndarray | None = None, *,
    twin: torch.nn.Module | None = None, need_input_grad: bool = True, infer: bool = False,
    seed: int = 0,
) -> None:
    """Assert a forward and backward pass of ``net`` on ``x`` computes what its twin's does:
    the logits, every parameter gradient and the input gradient (None when
    ``need_input_grad=False`` lets a first Conv2D skip it).

    Args:
        labels: backward from the cross-entropy with these labels (the loss compared too);
            without them, from a random upstream gradient drawn from ``seed``.
        twin: the PyTorch network (default ``to_torch(net)``, made before the pass).
        infer: also compare ``net.infer`` and ``net.predict`` with the twin's logits (for a
            network whose training and eval modes compute alike).
    """
    twin = to_torch(net) if twin is None else twin
    dtype = x.dtype
    logits = net.forward(x)
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    t_logits = twin(xt)
    if labels is None:
        grad = np.random.default_rng(seed).standard_normal(logits.shape).astype(dtype)
        t_logits.backward(torch.from_numpy(grad))
    else:
        loss_fn = SoftmaxCrossEntropy()
        loss = loss_fn.forward(logits, labels)
        grad = loss_fn.backward()
        t_loss = F.cross_entropy(t_logits, torch.from_numpy(labels))
        t_loss.backward()
        check(np.float64(loss), t_loss.detach().numpy(), dtype, "loss")
    grad_x = net.backward(grad, need_input_grad=need_input_grad)
    check(logits, t_logits.detach().numpy(), dtype, f"batch {len(x)} logits")
    t_params = dict(twin.named_parameters())
    assert list(net.named_grads()) == list(t_params)
    for key, g in net.named_grads().items():
        check(g, t_params[key].grad.numpy(), dtype, f"batch {len(x)} {key}")
    if need_input_grad or not isinstance(net.run_order[0], Conv2D):
        check(grad_x, xt.grad.numpy(), dtype, f"batch {len(x)} input gradient")
    else:
        assert grad_x is None
    if infer:
        check(net.infer(x), t_logits.detach().numpy(), dtype, f"batch {len(x)} infer logits")
        assert np.array_equal(net.predict(x), t_logits.argmax(dim=1).numpy())


def layer_and_naive(layer: Layer, x: np.ndarray, naive_fn: NaiveFn, seed: int = 0) -> Pairs:
    """Every quantity of ``layer_and_torch``, of ``layer`` and of ``naive_fn`` (the same
    layer computed by ``scratchnet.naive``) on the same input, weights and upstream gradient."""
    y = layer.forward(x)
    grad_y = upstream_gradient(y, seed)
    ours = {"output": y, "grad input": layer.backward(grad_y)}
    ours |= {f"grad {key}": grad for key, grad in layer.grads.items()}
    naive = naive_fn(layer, x, grad_y)
    assert naive.keys() == ours.keys(), f"naive gives {list(naive)}, {layer!r} {list(ours)}"
    return {name: (ours[name], naive[name]) for name in ours}


def naive_and_torch(layer: Layer, x: np.ndarray, naive_fn: NaiveFn, torch_fn: TorchFn,
                    seed: int = 0) -> Pairs:
    """Every quantity of ``layer_and_torch``, of ``naive_fn`` (on ``layer``'s configuration
    and weights) and of ``torch_fn``, with the upstream gradient ``layer_and_torch`` draws."""
    pairs = layer_and_torch(layer, x, torch_fn, seed)
    naive = naive_fn(layer, x, upstream_gradient(pairs["output"][0], seed))
    return {name: (naive[name], theirs) for name, (_, theirs) in pairs.items()}


def assert_all_agree(pairs: Pairs, dtype: np.dtype | type, what: str) -> None:
    """Assert that both arrays of every quantity in ``pairs`` have one shape and agree
    under ``reference.agreement`` for ``dtype``; ``what`` names the comparison."""
    for name, (ours, theirs) in pairs.items():
        assert np.shape(ours) == np.shape(theirs), (
            f"{what} {name}: shape {np.shape(ours)} vs {np.shape(theirs)}")
        assert_agree(ours, theirs, dtype, f"{what} {name}")


def optimizer_and_torch(
    make: Callable[[Sequential], object],
    make_torch: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
    net: Sequential, steps: int = 3, seed: int = 0, state: bool = False,
) -> Pairs:
    """``parameters after step t`` (all of them, flat) for ``t = 1..steps`` of the optimizer
    ``make(net)`` and of ``make_torch`` on the twin's parameters, given the same random
    gradients; ``net`` keeps its flat arrays, so the optimizer takes its flat path (unless
    ``make`` hides them). With ``state``, also ``<buffer> after step t`` for every buffer of
    the optimizer's ``state_dict()`` (``momentum_buffer``, ``exp_avg``, ``square_avg``, ...;
    torch names them alike), all parameters' flat in the same order."""
    twin = to_torch(net)
    tparams = dict(twin.named_parameters())
    opt, topt = make(net), make_torch(list(tparams.values()))
    rng = np.random.default_rng(seed)
    pairs = {}
    for t in range(1, steps + 1):
        for key, g in net.named_grads().items():
            g[...] = rng.standard_normal(g.shape)
            tparams[key].grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        names = list(net.named_params())
        ours = np.concatenate([p.ravel() for p in net.named_params().values()])
        theirs = torch.cat([tparams[key].detach().ravel() for key in names])
        pairs[f"parameters after step {t}"] = (ours, theirs.numpy())
        if not state:
            continue
        buffers = opt.state_dict()
        for buffer in dict.fromkeys(key.split(".", 1)[0] for key in buffers if key != "step"):
            pairs[f"{buffer} after step {t}"] = (
                np.concatenate([buffers[f"{buffer}.{key}"].ravel() for key in names]),
                torch.cat([topt.state[tparams[key]][buffer].ravel() for key in names]).numpy())
    return pairs


def clip_and_torch(
    clip: Callable[[dict[str, np.ndarray], float], float],
    grads: Mapping[str, np.ndarray], max_norm: float,
) -> Pairs:
    """``clipped gradients`` (all, flat) and the returned ``norm`` of ``clip`` (like
    ``scratchnet.optim.clip_grad_norm``) and of ``torch.nn.utils.clip_grad_norm_`` on
    copies of ``grads``."""
    ours = {key: g.copy() for key, g in grads.items()}
    norm = clip(ours, max_norm)
    tparams = []
    for g in grads.values():
        p = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype))
        p.grad = torch.from_numpy(g.copy())
        tparams.append(p)
    t_norm = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
    return {
        "clipped gradients": (np.concatenate([g.ravel() for g in ours.values()]),
                              torch.cat([p.grad.ravel() for p in tparams]).numpy()),
        "norm": (np.float64(norm), t_norm.numpy()),
    }
