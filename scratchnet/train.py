"""The training loop: configuration, seeded batches, one epoch, evaluation, and ``train``.

One training *step* on a batch ``(x_b, y_b)``::

    logits = net.forward(x_b)                      # (B, K)
    loss   = loss_fn.forward(logits, y_b)          # mean over the batch
    net.backward(loss_fn.backward(), need_input_grad=False)
    clip_grad_norm(net.named_grads(), clip_norm)   # optional
    optimizer.step()

An *epoch* is one step per batch of :func:`epoch_batches`, a shuffle that depends only on
``(seed, epoch)``. Nothing random is carried from one epoch to the next, so a run resumed
from a checkpoint sees exactly the batches the uninterrupted run would have seen, and the
PyTorch twin in ``reference/lockstep.py`` can be fed the very same batches.

Epochs are numbered from 1. ``train`` returns the history, one row per epoch::

    epoch  train_loss  train_acc  test_loss  test_acc  seconds  grad_norm.conv1  ...
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from scratchnet.checkpoint import describe_network, load_checkpoint, save_checkpoint
from scratchnet.layers.base import ShapeError
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential
from scratchnet.optim import SGD, Adam, Optimizer, clip_grad_norm, global_grad_norm

OPTIMIZERS = ("sgd", "adam")

# Config fields that only say where to stop; every other field changes the trajectory,
# so a checkpoint can be resumed only under the same values of those.
RESUMABLE_CHANGES = ("epochs",)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (besides the network and the data).

    Attributes:
        epochs: number of passes over the training set, >= 1.
        batch_size: examples per step, >= 1 (the last batch of an epoch may be smaller).
        optimizer: ``"sgd"`` or ``"adam"``.
        lr: learning rate, > 0.
        momentum: SGD momentum in [0, 1); must be 0 with Adam (Adam has its own betas).
        weight_decay: L2 penalty added to the gradient, >= 0.
        clip_norm: clip the global gradient norm to this (> 0) before each step; None: no.
        seed: seeds the shuffle of every epoch, >= 0.
    """

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        def check(field: str, ok: bool, expected: str) -> None:
            if not ok:
                value = getattr(self, field)
                raise ValueError(f"TrainConfig.{field}: expected {expected}, got {value!r}")

        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_real(v: Any) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
                v, bool
            ) and math.isfinite(v)

        check("epochs", is_int(self.epochs) and self.epochs >= 1, "an integer >= 1")
        check("batch_size", is_int(self.batch_size) and self.batch_size >= 1, "an integer >= 1")
        check("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}")
        check("lr", is_real(self.lr) and self.lr > 0, "a finite number > 0")
        check("momentum", is_real(self.momentum) and 0 <= self.momentum < 1,
              "a number in [0, 1)")
        check("momentum", self.optimizer == "sgd" or self.momentum == 0,
              f"0.0 with optimizer={self.optimizer!r} (momentum is for 'sgd')")
        check("weight_decay", is_real(self.weight_decay) and self.weight_decay >= 0,
              "a finite number >= 0")
        check("clip_norm", self.clip_norm is None or (is_real(self.clip_norm)
                                                      and self.clip_norm > 0),
              "None or a finite number > 0")
        check("seed", is_int(self.seed) and self.seed >= 0, "an integer >= 0")

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON-ready Python values (NumPy scalars converted)."""
        return {k: v.item() if isinstance(v, np.generic) else v
                for k, v in dataclasses.asdict(self).items()}


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The batches of one epoch: index arrays into ``n`` examples, in training order.

    A permutation of ``range(n)`` drawn from ``default_rng([seed, epoch])``, cut into
    consecutive pieces of ``batch_size`` (the last may be smaller). It depends only on
    ``(seed, epoch)``: no generator state survives between epochs.

    Returns:
        ``ceil(n / batch_size)`` int64 arrays; together they hold every index once.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def make_optimizer(net: Sequential, config: TrainConfig) -> Optimizer:
    """The ``SGD`` or ``Adam`` optimizer over ``net``'s parameters that ``config`` asks for."""
    if config.optimizer == "sgd":
        return SGD(net, lr=config.lr, momentum=config.momentum,
                   weight_decay=config.weight_decay)
    return Adam(net, lr=config.lr, weight_decay=config.weight_decay)


def check_data(net: Sequential, x: Any, y: Any, what: str = "x") -> None:
    """Raise one clear ValueError unless ``(x, y)`` can be fed to ``net``.

    ``x`` must be a non-empty ``(N, ...)`` array of the net's dtype whose examples have
    the shape the net's first layer takes (``(N, C, H, W)`` images, ``(N, features)``
    vectors), ``y`` an ``(N,)`` integer array with labels in ``[0, K)``, ``K`` the number
    of the net's outputs. ``what`` names the pair in the message (e.g. ``"train"``).
    """
    def fail(message: str) -> None:
        raise ValueError(f"{what}: {message}")

    if not isinstance(x, np.ndarray) or x.ndim < 2:
        fail("expected examples as an (N, ...) array, e.g. (N, C, H, W) images, got "
             f"{getattr(x, 'shape', type(x))}")
    if len(x) == 0:
        fail("expected at least one example, got none")
    if x.dtype != net.dtype:
        fail(f"images are {x.dtype} but the network is {net.dtype} "
             f"(convert with x.astype(np.{net.dtype}))")
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.ndim != 1:
        fail(f"expected labels as a 1-D integer array, got dtype {y.dtype}, shape {y.shape}")
    if len(y) != len(x):
        fail(f"{len(x)} images but {len(y)} labels")
    try:
        num_classes = net.forward(x[:1]).shape[1]  # the layers check the image shape
    except ShapeError as err:
        fail(str(err))
    if y.min() < 0 or y.max() >= num_classes:
        fail(f"labels must be in [0, {num_classes - 1}] for the network's {num_classes} "
             f"outputs, got values from {y.min()} to {y.max()}")


def evaluate(
    net: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean loss and accuracy of ``net`` on ``x: (N, C, H, W)``, ``y: (N,)``.

    Runs ``net.infer`` (forward only) in batches of ``batch_size``; the weights are not
    changed.
    """
    check_data(net, x, y, "evaluate")
    loss_fn = SoftmaxCrossEntropy()
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        logits = net.infer(xb)
        total_loss += loss_fn.forward(logits, yb) * len(yb)
        correct += int((logits.argmax(axis=1) == yb).sum())
    return total_loss / len(x), correct / len(x)


def layer_grad_norms(net: Sequential) -> dict[str, float]:
    """``{layer: L2 norm of all that layer's gradients together}`` for layers with params."""
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for key, grad in net.named_grads().items():
        layer = key.split(".", 1)[0]
        by_layer.setdefault(layer, {})[key] = grad
    return {layer: global_grad_norm(grads) for layer, grads in by_layer.items()}


def train_epoch(
    net: Sequential,
    optimizer: Optimizer,
    loss_fn: SoftmaxCrossEntropy,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    epoch: int,
    progress: bool = True,
) -> dict[str, float]:
    """Train ``net`` one epoch on the batches ``epoch_batches(len(x), ..., epoch)``.

    Args:
        net, optimizer, loss_fn: the network, its optimizer and the loss.
        x, y: training images ``(N, C, H, W)`` (the net's dtype) and labels ``(N,)``.
        config: batch size, seed and clip norm are taken from it.
        epoch: the epoch number (selects the shuffle).
        progress: show a tqdm bar over the batches.

    Returns:
        ``train_loss`` (mean over examples of the batch losses), ``train_acc`` (of the
        predictions made while training, batch by batch), ``seconds`` (wall time of the
        steps) and ``grad_norm.<layer>``: the largest norm of that layer's gradient
        (before clipping) over the epoch's steps.
    """
    batches = epoch_batches(len(x), config.batch_size, config.seed, epoch)
    total_loss, correct, seconds = 0.0, 0, 0.0
    max_norms: dict[str, float] = {}
    bar = tqdm(batches, desc=f"epoch {epoch}", disable=not progress, leave=False)
    for idx in bar:
        xb, yb = x[idx], y[idx]
        start = time.perf_counter()
        logits = net.forward(xb)
        loss = loss_fn.forward(logits, yb)
        net.backward(loss_fn.backward(), need_input_grad=False)
        seconds += time.perf_counter() - start
        norms = layer_grad_norms(net)  # bookkeeping, not part of the timed step
        start = time.perf_counter()
        if config.clip_norm is not None:
            clip_grad_norm(net.named_grads(), config.clip_norm)
        optimizer.step()
        seconds += time.perf_counter() - start

        total_loss += loss * len(idx)
        correct += int((logits.argmax(axis=1) == yb).sum())
        for layer, norm in norms.items():
            # max() would drop a NaN norm; keep it visible instead.
            old = max_norms.get(layer, -math.inf)
            max_norms[layer] = norm if (norm > old or math.isnan(norm)) else old
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
    metrics = {"train_loss": total_loss / len(x), "train_acc": correct / len(x),
               "seconds": seconds}
    metrics.update({f"grad_norm.{layer}": norm for layer, norm in max_norms.items()})
    return metrics


def check_resumable(checkpoint: Any, net: Sequential, config: TrainConfig) -> None:
    """Raise one clear ValueError unless ``checkpoint`` can continue this run.

    Every config field but ``epochs`` must match, and so must the network's description
    (layers, parameter shapes, dtype); the checkpoint must not be past ``config.epochs``.
    """
    where = f"resume from {checkpoint.path}"
    saved = checkpoint.config
    for field, value in config.to_dict().items():
        if field not in RESUMABLE_CHANGES and saved.get(field) != value:
            raise ValueError(f"{where}: checkpoint was made with {field}={saved.get(field)!r}, "
                             f"this run has {field}={value!r}")
    if checkpoint.network != describe_network(net):
        raise ValueError(f"{where}: checkpoint was made for a different network "
                         f"({checkpoint.network['dtype']}, "
                         f"{'/'.join(checkpoint.network['layers'])})")
    if checkpoint.epoch > config.epochs:
        raise ValueError(f"{where}: checkpoint is at epoch {checkpoint.epoch}, past this "
                         f"run's epochs={config.epochs}")


def train(
    net: Sequential,
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    config: TrainConfig,
    *,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Train ``net`` for ``config.epochs`` epochs, evaluating on the test set after each.

    Args:
        net: the network (trained in place).
        train_x, train_y: ``(N, C, H, W)`` images in the net's dtype, ``(N,)`` int labels.
        test_x, test_y: the same for the test set.
        config: the run's :class:`TrainConfig`.
        checkpoint: a ``.npz`` path; if given, a checkpoint is written there after every
            epoch (atomically, see ``scratchnet/checkpoint.py``).
        resume: if the checkpoint exists, restore weights, optimizer state and history
            from it and continue with the next epoch. The result equals the uninterrupted
            run's bit for bit (except ``seconds``).
        progress: show a progress bar per epoch.

    Returns:
        The history: one row per epoch with ``epoch, train_loss, train_acc, test_loss,
        test_acc, seconds`` and ``grad_norm.<layer>`` for each layer with parameters.
    """
    check_data(net, train_x, train_y, "train")
    check_data(net, test_x, test_y, "test")
    if resume and checkpoint is None:
        raise ValueError("train: resume=True needs checkpoint=<path>")
    optimizer = make_optimizer(net, config)
    loss_fn = SoftmaxCrossEntropy()
    rows: list[dict[str, Any]] = []
    if resume and os.path.exists(checkpoint):
        saved = load_checkpoint(checkpoint)
        check_resumable(saved, net, config)
        net.load_params(saved.params)
        optimizer.load_state_dict(saved.optimizer_state)
        rows = saved.history.to_dict("records")

    for epoch in range(len(rows) + 1, config.epochs + 1):  # epochs count from 1
        metrics = train_epoch(net, optimizer, loss_fn, train_x, train_y, config, epoch,
                              progress)
        test_loss, test_acc = evaluate(net, test_x, test_y)
        rows.append({"epoch": epoch, "train_loss": metrics.pop("train_loss"),
                     "train_acc": metrics.pop("train_acc"), "test_loss": test_loss,
                     "test_acc": test_acc, **metrics})
        if checkpoint is not None:
            save_checkpoint(checkpoint, net, optimizer, pd.DataFrame(rows), config, epoch)
    return pd.DataFrame(rows)


__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "check_data",
    "epoch_batches",
    "evaluate",
    "layer_grad_norms",
    "make_optimizer",
    "train",
    "train_epoch",
]
