"""Run one batch through a scratchnet network and its PyTorch twin, and tabulate the gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from reference.agreement import errors, tolerance
from reference.twin import to_torch
from scratchnet import Sequential, SoftmaxCrossEntropy
from scratchnet.layers.base import fmt_shape


def compare(net: Sequential, x: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Compare every layer output, the loss and every gradient of ``net`` with its twin
    (``compare_traced``'s table)."""
    return compare_traced(net, x, labels)[0]


def compare_traced(
    net: Sequential, x: np.ndarray, labels: np.ndarray
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Compare every layer output, the loss and every gradient of ``net`` with its twin.

    Both networks take the batch ``x: (N, C, H, W)`` with integer ``labels: (N,)``, compute
    the mean softmax cross-entropy and back-propagate it. The rows come in the order the
    quantities are computed: each layer's output (and its buffers after it, a batch norm's
    running statistics, in training mode updated by this batch), the loss, then, from the
    last layer to the first, each layer's parameter gradients and its input gradient. So
    the first row that fails is where the two part ways, and the layer it names holds the
    bug.

    Returns:
        ``(table, trace)``. The table is a DataFrame with columns ``layer, quantity, shape,
        max_abs_err, max_rel_err, tolerance, passed``; ``df.attrs["first_divergence"]``
        names the first failing row (``"<layer> <quantity>"``), or is None when everything
        agrees; :func:`format_comparison` prints it for a person. The trace maps each layer
        name to ``(input, upstream gradient)``, what the layer was given on scratchnet's
        side, to run another implementation on the very same arrays.
    """
    dtype = net.dtype or x.dtype
    twin = to_torch(net)
    labels = np.asarray(labels)

    # scratchnet: keep every output and every input gradient.
    outputs, input_grads, inputs, upstream, h = {}, {}, {}, {}, x
    for name, layer in net.layers.items():
        inputs[name] = h
        h = outputs[name] = layer.forward(h)
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(h, labels)
    g = loss_fn.backward()
    for name, layer in reversed(net.layers.items()):
        upstream[name] = g
        g = input_grads[name] = layer.backward(g)

    # PyTorch: retain the gradient of every intermediate output.
    xt = torch.from_numpy(np.array(x)).requires_grad_(True)
    t_outputs, ht = {}, xt
    for name, module in twin.named_children():
        ht = t_outputs[name] = module(ht)
        ht.retain_grad()
    t_loss = torch.nn.functional.cross_entropy(ht, torch.from_numpy(labels.astype(np.int64)))
    t_loss.backward()
    t_params = dict(twin.named_parameters())
    names = list(net.layers)
    t_input_grads = {
        name: (xt if i == 0 else t_outputs[names[i - 1]]).grad for i, name in enumerate(names)
    }

    rows = []

    def row(layer: str, quantity: str, ours: np.ndarray, theirs: torch.Tensor) -> None:
        theirs_np = theirs.detach().numpy()
        abs_err, rel_err, scale = errors(ours, theirs_np)
        tol = tolerance(dtype) * scale
        rows.append({
            "layer": layer, "quantity": quantity, "shape": fmt_shape(np.shape(ours)),
            "max_abs_err": abs_err, "max_rel_err": rel_err, "tolerance": tol,
            "passed": bool(abs_err <= tol),
        })

    t_buffers = dict(twin.named_buffers())
    for name in names:
        row(name, "output", outputs[name], t_outputs[name])
        for key, buffer in getattr(net.layers[name], "buffers", {}).items():
            if f"{name}.{key}" in t_buffers:      # as the forward pass left them
                row(name, key, buffer, t_buffers[f"{name}.{key}"])
    row("loss", "loss", np.asarray(loss), t_loss)
    for name in reversed(names):
        for key, grad in net.layers[name].grads.items():
            row(name, f"grad {key}", grad, t_params[f"{name}.{key}"].grad)
        row(name, "grad input", input_grads[name], t_input_grads[name])

    df = pd.DataFrame(rows)
    failed = df[~df["passed"]]
    df.attrs["first_divergence"] = (
        None if failed.empty else f"{failed.iloc[0]['layer']} {failed.iloc[0]['quantity']}"
    )
    df.attrs["dtype"] = str(np.dtype(dtype))
    return df, {name: (inputs[name], upstream[name]) for name in names}


def format_comparison(df: pd.DataFrame) -> str:
    """The comparison table as text, with a last line saying where the two part ways."""
    shown = df.assign(
        max_abs_err=df["max_abs_err"].map("{:.2e}".format),
        max_rel_err=df["max_rel_err"].map("{:.2e}".format),
        tolerance=df["tolerance"].map("{:.1e}".format),
        passed=df["passed"].map({True: "ok", False: "FAIL"}),
    )
    text = shown.to_string(index=False)
    first = df.attrs.get("first_divergence")
    dtype = df.attrs.get("dtype", "")
    if first is None:
        verdict = f"All {len(df)} quantities agree with PyTorch ({dtype})."
    else:
        bad = df[~df["passed"]].iloc[0]
        verdict = (
            f"First divergence: {first} (max abs error {bad['max_abs_err']:.3g} > "
            f"{bad['tolerance']:.3g}). Look at this layer's "
            f"{'forward' if bad['quantity'] == 'output' else 'backward'} pass."
        )
    return f"{text}\n{verdict}"
