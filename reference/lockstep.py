"""Train scratchnet and its PyTorch twin side by side, epoch by epoch, and compare them.

``train_lockstep`` starts both networks from the same weights (``to_torch`` copies them),
gives both the same optimizer and hyperparameters, and each epoch:

1. trains the scratchnet network one epoch with ``scratchnet.train.train_epoch``
   (the very loop ``train`` uses) on the batches of ``epoch_batches(n, ..., epoch)``;
2. sleeps ``pause`` seconds (see below);
3. trains the twin one epoch on the SAME batches in the same order (forward,
   ``F.cross_entropy`` mean, backward, optional ``clip_grad_norm_``, optimizer step);
4. evaluates both on the test set, one pass each giving the loss, the accuracy and every
   prediction (``EVAL_BATCH`` images at a time), and measures how far apart their weights
   are.

Why alternating whole epochs is true lockstep: both sides are deterministic (CPU kernels,
no random augmentation), the batches are a function of ``(seed, epoch)`` only, and
neither side reads the other's state. So the weights each side holds after epoch ``e``
are exactly what they would hold if the two were stepped batch by batch in alternation;
interleaving at the epoch level just keeps each framework's timing clean.

**Dropout.** The one random thing in a step is a dropout mask, and scratchnet draws it:
each step's masks are recorded after scratchnet's step (``record_masks``) and handed back
before the twin's step of the same batch (``hand_masks``), by putting them in the layer's
``mask``, which the twin's dropout reads at forward time (``reference/kinds/dropout.py``).
So the twin drops exactly what scratchnet dropped, step by step.

**Modes and buffers.** Both sides train in training mode (batch statistics, dropout) and
are evaluated in eval mode (running statistics, no dropout; ``Sequential.infer`` and
:func:`torch_evaluate` switch and switch back). A network with buffers (a batch norm's
running statistics) gets a ``buffer_gap`` column, their largest difference, computed as
``param_gap`` is for the weights.

Why the pause: after a BLAS call, OpenBLAS's worker threads keep spinning for about a
tenth of a second before they sleep. On the 2-core machines this project targets they
would steal a core from PyTorch right after a scratchnet epoch and make torch look slower
than it is. The pause is outside both timed regions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from reference.twin import copy_to_torch, to_torch
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential
from scratchnet.train import (
    TrainConfig,
    check_data,
    epoch_batches,
    evaluate_predictions,
    make_optimizer,
    train_epoch,
)

FRAMEWORKS = ("scratchnet", "torch")

#: Test images per batch of the per-epoch evaluation, on both sides (the two average the
#: loss over the same batches). PyTorch's float64 forward pass is fastest at a few hundred
#: images: on the 2-core machines this project targets, one thread, 10,000 images took
#: 0.53 s in batches of 250 against 1.6 s in batches of 1000 (float32: 0.27 s and 0.46 s).
EVAL_BATCH = 250


#: PyTorch's twin of each of ``scratchnet.train.OPTIMIZERS``, with the same hyperparameters.
TORCH_OPTIMIZERS = {
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum,
                                             weight_decay=c.weight_decay),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda params, c: torch.optim.RMSprop(params, lr=c.lr, momentum=c.momentum,
                                                     weight_decay=c.weight_decay),
}


def make_torch_optimizer(twin: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The ``torch.optim`` twin of the optimizer ``make_optimizer`` makes for ``config``."""
    return TORCH_OPTIMIZERS[config.optimizer](twin.parameters(), config)


def torch_train_epoch(
    twin: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    epoch: int,
    progress: bool = True,
    before_step: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """The twin's counterpart of ``train_epoch``: same batches, same metrics (no norms).

    The twin trains in training mode. ``before_step`` is called with the step number
    (from 1) before each step, outside the timed part: :func:`train_lockstep` hands the
    twin that step's dropout masks there.

    Returns:
        ``train_loss`` (mean over examples of the batch losses), ``train_acc`` (of the
        predictions made while training) and ``seconds`` (wall time of the steps).
    """
    batches = epoch_batches(len(x), config.batch_size, config.seed, epoch)
    total_loss, correct, seconds = 0.0, 0, 0.0
    bar = tqdm(batches, desc=f"torch epoch {epoch}", disable=not progress, leave=False)
    twin.train()
    for step, idx in enumerate(bar, start=1):
        if before_step is not None:
            before_step(step)
        index = torch.from_numpy(idx)
        xb, yb = x.index_select(0, index), y.index_select(0, index)  # faster than x[index]
        start = time.perf_counter()
        logits = twin(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        if config.clip_norm is not None:
            nn.utils.clip_grad_norm_(twin.parameters(), config.clip_norm)
        optimizer.step()
        seconds += time.perf_counter() - start

        total_loss += loss.item() * len(idx)
        correct += int((logits.argmax(dim=1) == yb).sum())
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return {"train_loss": total_loss / len(x), "train_acc": correct / len(x),
            "seconds": seconds}


@torch.inference_mode()
def torch_evaluate(
    twin: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH
) -> tuple[float, float, np.ndarray]:
    """Mean loss, accuracy and the predicted classes ``(N,)`` of the twin on ``(x, y)``.

    The twin runs in eval mode, whatever its mode, which it gets back afterwards: as
    scratchnet's ``Sequential.infer``. The loss is averaged as
    ``scratchnet.train.evaluate_predictions`` averages it (batch means weighted by batch
    size), so the two are the same formula.
    """
    total_loss, predictions = 0.0, []
    modes = {module: module.training for module in twin.modules()}
    twin.eval()
    try:
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            logits = twin(xb)
            total_loss += F.cross_entropy(logits, yb).item() * len(yb)
            predictions.append(logits.argmax(dim=1).numpy())
    finally:
        for module, mode in modes.items():
            module.training = mode
    predicted = np.concatenate(predictions)
    accuracy = float((predicted == y.numpy()).mean())
    return total_loss / len(x), accuracy, predicted


def as_int64(labels: np.ndarray) -> np.ndarray:
    """``labels`` as int64, the dtype ``F.cross_entropy`` wants (no copy if already so)."""
    return np.asarray(labels, dtype=np.int64)


def param_gap(net: Sequential, twin: nn.Module) -> float:
    """The largest absolute difference between any parameter of ``net`` and of ``twin``."""
    return _largest_gap(net.named_params(), twin)


def buffer_gap(net: Sequential, twin: nn.Module) -> float:
    """The largest absolute difference between any buffer of ``net`` (a batch norm's
    running statistics and batch count) and of ``twin``; NaN for a network without."""
    buffers = net.named_buffers()
    return _largest_gap(buffers, twin) if buffers else float("nan")


def _largest_gap(ours: dict[str, np.ndarray], twin: nn.Module) -> float:
    theirs = twin.state_dict()
    return max(float(np.max(np.abs(value - theirs[key].numpy()), initial=0.0))
               for key, value in ours.items())


def masked_layers(net: Sequential) -> dict[str, Any]:
    """The layers of ``net`` that draw a mask in training (a ``Dropout``: they take a mask
    with ``use_mask`` and keep the one drawn in ``mask``), by name."""
    return {name: layer for name, layer in net.layers.items() if hasattr(layer, "use_mask")}


def record_masks(layers: dict[str, Any], masks: list[dict[str, np.ndarray]]) -> None:
    """Append the masks ``layers`` drew in the step just made to ``masks``."""
    masks.append({name: layer.mask for name, layer in layers.items()})


def hand_masks(layers: dict[str, Any], step_masks: dict[str, np.ndarray]) -> None:
    """Put one step's recorded masks back in ``layers``' ``mask``, where the twin's
    dropout reads them at its forward pass."""
    for name, layer in layers.items():
        layer.mask = step_masks[name]


def train_lockstep(
    net: Sequential,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    config: TrainConfig,
    *,
    progress: bool = True,
    pause: float = 0.12,
    twin: nn.Module | None = None,
) -> pd.DataFrame:
    """Train ``net`` and its PyTorch twin in lockstep; one row of comparisons per epoch.

    Args:
        net: the scratchnet network (trained in place); its twin starts from its weights.
        train_x, train_y, test_x, test_y: as for ``scratchnet.train.train``.
        config: the run's ``TrainConfig``, used by both sides.
        progress: show progress bars.
        pause: seconds to sleep between the two frameworks' epochs (module docstring).
        twin: the PyTorch twin to train, e.g. ``to_torch(net)`` kept by the caller to use
            after training; its weights are first set to ``net``'s. Default: a new one.

    Returns:
        One row per epoch: ``epoch``; for ``f`` in (scratchnet, torch):
        ``f_train_loss, f_train_acc, f_test_loss, f_test_acc, f_seconds``; then
<<<<<<< HEAD
        ``param_gap`` (largest absolute weight difference), for a network with buffers
        ``buffer_gap`` (largest absolute buffer difference), ``prediction_agreement``
        (fraction of test images both classify alike) and ``epoch_seconds`` (wall time of
=======
        ``param_gap`` (largest absolute weight difference), ``prediction_agreement``
        (fraction of test images both classify alike), ``eval_seconds`` (wall time of the
        two frameworks' evaluations on the test set) and ``epoch_seconds`` (wall time of
>>>>>>> speed
        the whole epoch: both frameworks' steps, the pause, the evaluations and the
        comparison). ``df.attrs["config"]`` holds ``config.to_dict()``.
    """
    check_data(net, train_x, train_y, "train")
    check_data(net, test_x, test_y, "test")
    if twin is None:
        twin = to_torch(net)
    else:
        copy_to_torch(net, twin)
    optimizer, torch_optimizer = make_optimizer(net, config), make_torch_optimizer(twin, config)
    loss_fn = SoftmaxCrossEntropy()
    # Whole sets converted once; from_numpy shares memory (labels copied only if not int64).
    train_xt, train_yt = torch.from_numpy(train_x), torch.from_numpy(as_int64(train_y))
    test_xt, test_yt = torch.from_numpy(test_x), torch.from_numpy(as_int64(test_y))
    masked = masked_layers(net)
    masks: list[dict[str, np.ndarray]] = []      # this epoch's, one dict per step
    record = (lambda step: record_masks(masked, masks)) if masked else None
    hand = (lambda step: hand_masks(masked, masks[step - 1])) if masked else None

    rows: list[dict[str, Any]] = []
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        masks.clear()
        net.train()
        ours = train_epoch(net, optimizer, loss_fn, train_x, train_y, config, epoch, progress,
                           grad_norms=False, after_step=record)
        time.sleep(pause)
        theirs = torch_train_epoch(twin, torch_optimizer, train_xt, train_yt, config, epoch,
                                   progress, before_step=hand)
        evaluated = time.perf_counter()
        ours["test_loss"], ours["test_acc"], our_predictions = evaluate_predictions(
            net, test_x, test_y, EVAL_BATCH)
        theirs["test_loss"], theirs["test_acc"], their_predictions = torch_evaluate(
            twin, test_xt, test_yt)
        eval_seconds = time.perf_counter() - evaluated

        row: dict[str, Any] = {"epoch": epoch}
        for name, metrics in zip(FRAMEWORKS, (ours, theirs), strict=True):
            for key in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds"):
                row[f"{name}_{key}"] = metrics[key]
        row["param_gap"] = param_gap(net, twin)
        if net.named_buffers():
            row["buffer_gap"] = buffer_gap(net, twin)
        row["prediction_agreement"] = float((our_predictions == their_predictions).mean())
        row["eval_seconds"] = eval_seconds
        row["epoch_seconds"] = time.perf_counter() - start
        rows.append(row)
    history = pd.DataFrame(rows)
    history.attrs["config"] = config.to_dict()
    return history


__all__ = ["EVAL_BATCH", "FRAMEWORKS", "buffer_gap", "hand_masks", "make_torch_optimizer",
           "masked_layers", "param_gap", "record_masks", "torch_evaluate", "torch_train_epoch",
           "train_lockstep"]
