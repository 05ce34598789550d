"""The training loop: configuration, seeded batches, one epoch, evaluation, and ``train``.

One training *step* on a batch ``(x_b, y_b)``::

    logits = net.forward(x_b)                      # (B, K)
    loss   = loss_fn.forward(logits, y_b)          # mean over the batch
    net.backward(loss_fn.backward(), need_input_grad=False)
    clip_grad_norm(net.named_grads(), clip_norm)   # optional
    optimizer.step()

An *epoch* is one step per batch of :func:`epoch_batches`, a shuffle that depends only on
``(seed, epoch)``, and the masks its dropout layers draw come from generators seeded by
``(seed, epoch, layer)`` too (:func:`seed_epoch`). Nothing random is carried from one epoch
to the next, so a run resumed from a checkpoint sees exactly the batches and masks the
uninterrupted run would have seen, and the PyTorch twin in ``reference/lockstep.py`` can be
fed the very same batches.

Epochs are numbered from 1. ``train`` returns the history, one row per epoch::

    epoch  train_loss  train_acc  test_loss  test_acc  seconds  grad_norm.conv1  ...

Nothing is lost when a run fails. Every path it writes (checkpoint, history) is checked
before the first step; after every epoch both are rewritten atomically, so an interrupted,
killed or diverged run leaves the state and the history of its last good epoch. A run
*diverges* when a step's outputs, loss or gradients are NaN or infinite, or its loss or
gradient norm passes a bound (:class:`Bounds`); it then stops with one
:class:`DivergenceError` line that names the epoch and step, and saves nothing of the
epoch that diverged.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from scratchnet.atomic import check_writable, write_atomically
from scratchnet.checkpoint import (
    Checkpoint,
    CheckpointError,
    describe_data,
    describe_network,
    load_checkpoint,
    save_checkpoint,
)
from scratchnet.layers.base import ShapeError
from scratchnet.losses import SoftmaxCrossEntropy
from scratchnet.network import Sequential
from scratchnet.optim import SGD, Adam, Optimizer, RMSprop, clip_grad_norm, global_grad_norm

# Config fields that only say where to stop; every other field changes the trajectory,
# so a checkpoint can be resumed only under the same values of those.
RESUMABLE_CHANGES = ("epochs",)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (besides the network and the data).

    Attributes:
        epochs: number of passes over the training set, >= 1.
        batch_size: examples per step, >= 1 (the last batch of an epoch may be smaller).
        optimizer: a name in ``OPTIMIZERS``: ``"sgd"``, ``"adam"`` or ``"rmsprop"``.
        lr: learning rate, > 0.
        momentum: momentum in [0, 1), for ``"sgd"`` and ``"rmsprop"``; must be 0 with
            ``"adam"`` (Adam has its own betas). The optimizers' other hyperparameters
            keep their defaults (RMSprop's ``alpha`` 0.99, Adam's betas).
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
        check("optimizer", self.optimizer in OPTIMIZERS, f"one of {tuple(OPTIMIZERS)}")
        check("lr", is_real(self.lr) and self.lr > 0, "a finite number > 0")
        check("momentum", is_real(self.momentum) and 0 <= self.momentum < 1,
              "a number in [0, 1)")
        for field in OPTIONS:   # an option the chosen optimizer does not take keeps its default
            default = TrainConfig.__dataclass_fields__[field].default
            takers = " and ".join(repr(name) for name, kind in OPTIMIZERS.items()
                                  if field in kind.options)
            check(field, field in OPTIMIZERS[self.optimizer].options
                  or getattr(self, field) == default,
                  f"{default!r} with optimizer={self.optimizer!r} ({field} is for {takers})")
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


@dataclass(frozen=True)
class OptimizerKind:
    """How a :class:`TrainConfig` makes one kind of optimizer.

    Attributes:
        build: ``(net, config) -> optimizer``; every kind takes ``lr`` and ``weight_decay``.
        options: the fields of ``OPTIONS`` it takes too; the others must keep their defaults.
    """

    build: Callable[[Sequential, TrainConfig], Optimizer]
    options: tuple[str, ...] = ()


#: The TrainConfig fields that only some optimizers take. A new field changes every
#: config's ``to_dict()``, which the committed reports' settings files hold, so the
#: reports count as stale until they are made again.
OPTIONS = ("momentum",)

#: The optimizers a run can train with, by the name ``TrainConfig.optimizer`` gives.
OPTIMIZERS: dict[str, OptimizerKind] = {
    "sgd": OptimizerKind(lambda net, c: SGD(net, lr=c.lr, momentum=c.momentum,
                                            weight_decay=c.weight_decay), ("momentum",)),
    "adam": OptimizerKind(lambda net, c: Adam(net, lr=c.lr, weight_decay=c.weight_decay)),
    "rmsprop": OptimizerKind(lambda net, c: RMSprop(net, lr=c.lr, momentum=c.momentum,
                                                    weight_decay=c.weight_decay),
                             ("momentum",)),
}


@dataclass(frozen=True)
class Bounds:
    """Past these a run has diverged (as it has at any NaN or infinity), and stops.

    Attributes:
        max_loss: the largest mean loss of a batch or of the test set, > 0. Default
            1000: an untrained 10-class network starts near ln 10 = 2.3, the report's
            batch-1 runs peak near 15 on single hard images (measured over their first 15
            epochs), and a mean loss of 1000 needs logits 1000 apart.
        max_grad_norm: the largest global gradient norm of a step (before clipping), > 0.
            Default 1e5; the same batch-1 runs peak near 70, batch 64 near 6.
    """

    max_loss: float = 1e3
    max_grad_norm: float = 1e5

    def __post_init__(self) -> None:
        for field in ("max_loss", "max_grad_norm"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Bounds.{field}: expected a finite number > 0, got {value!r}")


class DivergenceError(FloatingPointError):
    """Training produced NaN or infinity, or passed one of its :class:`Bounds`.

    Attributes:
        epoch: the epoch that diverged.
        step: its step (from 1) that diverged; 0: the epoch's steps went through but the
            weights or the test loss after them did not.
        reason: what was wrong, e.g. ``"loss is nan"``.
    """

    def __init__(self, epoch: int, step: int, steps: int, reason: str, kept: str = "") -> None:
        self.epoch, self.step, self.steps, self.reason = epoch, step, steps, reason
        where = f"step {step} of {steps}" if step else "after its last step"
        super().__init__(f"diverged at epoch {epoch}, {where}: {reason}"
                         + (f"; {kept}" if kept else ""))


class ResumeMismatchError(ValueError):
    """A checkpoint was made with other settings or data than the run resuming it.

    Attributes:
        path: the checkpoint.
        differences: one ``"what (checkpoint A, this run B)"`` per difference.
    """

    def __init__(self, path: Path, differences: list[str]) -> None:
        self.path, self.differences = path, differences
        super().__init__(f"resume from {path}: this run differs from the checkpoint in "
                         f"{'; '.join(differences)} (force_resume=True continues anyway)")


class OutputError(ValueError):
    """An output of a run cannot be written where it was asked to go.

    Attributes:
        argument: the ``train`` argument (``"checkpoint"`` or ``"history"``).
        path: the path given; problem: what is wrong with it.
    """

    def __init__(self, argument: str, path: str | os.PathLike, problem: str) -> None:
        self.argument, self.path, self.problem = argument, path, problem
        super().__init__(f"{argument} {path}: {problem}")


def check_outputs(checkpoint: str | os.PathLike | None, history: str | os.PathLike | None,
                  resume: bool) -> None:
    """Raise :class:`OutputError` unless the run can write its checkpoint and history.

    Each must be a writable file path (``scratchnet.atomic.check_writable``), the two
    must differ, and an existing checkpoint is only ever continued (``resume``), never
    replaced by a new run.
    """
    for argument, path in (("checkpoint", checkpoint), ("history", history)):
        if path is None:
            continue
        try:
            check_writable(path)
        except OSError as err:
            raise OutputError(argument, path, err.strerror) from None
    if checkpoint is not None and history is not None and (
            Path(checkpoint).resolve() == Path(history).resolve()):
        raise OutputError("history", history, "is the checkpoint's path too; give each its "
                                              "own file")
    if checkpoint is not None and not resume and os.path.exists(checkpoint):
        raise OutputError("checkpoint", checkpoint, "already exists; resume it, or remove "
                                                    "it to start afresh")


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
    """The optimizer over ``net``'s parameters that ``config`` asks for."""
    return OPTIMIZERS[config.optimizer].build(net, config)


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
        # The layers check the image shape; infer runs them in eval mode, so that no
        # training-mode batch norm counts this example in its running statistics.
        num_classes = net.infer(x[:1]).shape[1]
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
    changed. Both are NaN when the network's outputs are not all finite (it diverged).
    """
    loss, accuracy, _ = evaluate_predictions(net, x, y, batch_size)
    return loss, accuracy


def evaluate_predictions(
    net: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 1000
) -> tuple[float, float, np.ndarray]:
    """:func:`evaluate`'s loss and accuracy, and the predicted classes ``(N,)``, from the
    same single pass over ``x``. A diverged network (outputs not all finite) predicts no
    class: NaN, NaN and -1 for every example."""
    check_data(net, x, y, "evaluate")
    loss_fn = SoftmaxCrossEntropy()
    total_loss, predictions = 0.0, []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        logits = net.infer(xb)
        if not np.isfinite(logits).all():  # a diverged network: no loss or accuracy to speak of
            return math.nan, math.nan, np.full(len(x), -1)
        total_loss += loss_fn.forward(logits, yb) * len(yb)
        predictions.append(logits.argmax(axis=1))
    predicted = np.concatenate(predictions)
    return total_loss / len(x), int((predicted == y).sum()) / len(x), predicted


def layer_grad_norms(net: Sequential) -> dict[str, float]:
    """``{layer: L2 norm of all that layer's gradients together}`` for layers with params."""
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for key, grad in net.named_grads().items():
        layer = key.split(".", 1)[0]
        by_layer.setdefault(layer, {})[key] = grad
    return {layer: global_grad_norm(grads) for layer, grads in by_layer.items()}


def all_grads(net: Sequential) -> dict[str, np.ndarray]:
    """The network's gradients, for a norm over all of them: ``{"all": net.flat_grads}``
    while the layers' gradients are views into that one array (one pass instead of one
    per parameter), else ``net.named_grads()``."""
    grads, flat = net.named_grads(), net.flat_parameters()
    in_use = flat is not None and flat.in_use(net.named_params(), grads)
    return {"all": flat.grads} if in_use else grads


def seed_epoch(net: Sequential, seed: int, epoch: int) -> None:
    """Give every layer that draws at random while it trains (a ``Dropout``: its ``rng``)
    a generator seeded by ``(seed, epoch, its position)``, so that an epoch's masks, like
    its batches, depend on nothing carried from the epochs before (a resumed run draws the
    uninterrupted run's masks)."""
    for position, layer in enumerate(net):
        if isinstance(getattr(layer, "rng", None), np.random.Generator):
            layer.rng = np.random.default_rng([seed, epoch, position])


def train_epoch(
    net: Sequential,
    optimizer: Optimizer,
    loss_fn: SoftmaxCrossEntropy,
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    epoch: int,
    progress: bool = True,
    bounds: Bounds = Bounds(),
    grad_norms: bool = True,
    after_step: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Train ``net`` one epoch on the batches ``epoch_batches(len(x), ..., epoch)``, its
    dropout masks drawn as ``seed_epoch`` seeds them.

    Args:
        net, optimizer, loss_fn: the network, its optimizer and the loss.
        x, y: training images ``(N, C, H, W)`` (the net's dtype) and labels ``(N,)``.
        config: batch size, seed and clip norm are taken from it.
        epoch: the epoch number (selects the shuffle).
        progress: show a tqdm bar over the batches.
        bounds: when the run counts as diverged.
        grad_norms: record the ``grad_norm.<layer>`` metrics (bookkeeping after every
            step, outside the timed part; the training is the same without it).
        after_step: called with the step number (from 1) after each step, outside the
            timed part: e.g. to record the dropout masks the step drew
            (``reference/lockstep.py`` hands them to the PyTorch twin).

    Raises:
        DivergenceError: a step's outputs, loss or gradient norm are not finite, or its
            loss or gradient norm is past ``bounds``; the step is not applied.

    Returns:
        ``train_loss`` (mean over examples of the batch losses), ``train_acc`` (of the
        predictions made while training, batch by batch), ``seconds`` (wall time of the
        steps) and, with ``grad_norms``, ``grad_norm.<layer>``: the largest norm of that
        layer's gradient (before clipping) over the epoch's steps.
    """
    batches = epoch_batches(len(x), config.batch_size, config.seed, epoch)
    seed_epoch(net, config.seed, epoch)
    total_loss, correct, seconds = 0.0, 0, 0.0
    max_norms: dict[str, float] = {}
    bar = tqdm(batches, desc=f"epoch {epoch}", disable=not progress, leave=False)

    def diverged(step: int, reason: str) -> DivergenceError:
        bar.close()
        return DivergenceError(epoch, step, len(batches), reason)

    for step, idx in enumerate(bar, start=1):
        xb, yb = x[idx], y[idx]
        start = time.perf_counter()
        logits = net.forward(xb)
        if not np.isfinite(logits).all():
            raise diverged(step, "the network's outputs are NaN or infinite")
        loss = loss_fn.forward(logits, yb)
        if not loss <= bounds.max_loss:  # also NaN
            raise diverged(step, f"loss {loss:.4g} is past the bound max_loss={bounds.max_loss:g}")
        net.backward(loss_fn.backward(), need_input_grad=False)
        seconds += time.perf_counter() - start
        # Bookkeeping, not part of the timed step: the per-layer norms when they are
        # recorded, else the global norm alone (one pass), for the divergence bound.
        norms = layer_grad_norms(net) if grad_norms else {}
        norm = (math.sqrt(sum(n * n for n in norms.values())) if grad_norms
                else global_grad_norm(all_grads(net)))
        if not norm <= bounds.max_grad_norm:
            raise diverged(step, f"gradient norm {norm:.4g} is past the bound "
                           f"max_grad_norm={bounds.max_grad_norm:g}")
        start = time.perf_counter()
        if config.clip_norm is not None:
            clip_grad_norm(net.named_grads(), config.clip_norm)
        optimizer.step()
        seconds += time.perf_counter() - start

        total_loss += loss * len(idx)
        correct += int((logits.argmax(axis=1) == yb).sum())
        for layer, layer_norm in norms.items():
            max_norms[layer] = max(layer_norm, max_norms.get(layer, -math.inf))  # all finite
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        if after_step is not None:
            after_step(step)
    metrics = {"train_loss": total_loss / len(x), "train_acc": correct / len(x),
               "seconds": seconds}
    metrics.update({f"grad_norm.{layer}": norm for layer, norm in max_norms.items()})
    return metrics


def resume_differences(checkpoint: Checkpoint, net: Sequential, config: TrainConfig,
                       data: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between the run that made ``checkpoint`` and this one, e.g.
    ``"lr (checkpoint 0.01, this run 0.02)"``.

    Every config field but ``epochs`` is compared, the network's description (dtype and
    layers) and the fingerprints of the data (``data``, by name, as
    :func:`scratchnet.checkpoint.describe_data` gives them).

    Raises:
        CheckpointError: the checkpoint's config is not a valid ``TrainConfig``, or its
            network's parameters or buffers do not fit ``net`` at all (no flag can continue that).
    """
    where = checkpoint.path
    try:
        saved = TrainConfig(**checkpoint.config).to_dict()
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: its config is not a valid TrainConfig "
                              f"({str(err).splitlines()[0]})") from None
    ours = describe_network(net)
    theirs = checkpoint.network
    shapes_of = {name: {**network["params"], **{k: b["shape"] for k, b in
                                                  network.get("buffers", {}).items()}}
                 for name, network in (("theirs", theirs), ("ours", ours))}
    for key in dict.fromkeys([*shapes_of["theirs"], *shapes_of["ours"]]):
        shapes = [_shape(shapes_of[name].get(key)) for name in ("theirs", "ours")]
        if shapes[0] != shapes[1]:
            raise CheckpointError(f"{where}: checkpoint was made for a different network: "
                                  f"its {key} is {shapes[0]}, this network's {shapes[1]}")
    differences = [f"{field} (checkpoint {saved[field]!r}, this run {value!r})"
                   for field, value in config.to_dict().items()
                   if field not in RESUMABLE_CHANGES and saved[field] != value]
    if theirs["dtype"] != ours["dtype"]:
        differences.append(f"dtype (checkpoint {theirs['dtype']}, this run {ours['dtype']})")
    differences += [f"layer {name} (checkpoint {theirs['layers'].get(name)}, this run "
                    f"{layer})" for name, layer in ours["layers"].items()
                    if theirs["layers"].get(name) != layer][:1]
    for name, fingerprint in data.items():
        if checkpoint.data.get(name) != fingerprint:
            differences.append(f"{name} data (checkpoint {_data(checkpoint.data.get(name))}; "
                               f"this run {_data(fingerprint)})")
    return differences


def _shape(shape: list[int] | None) -> str:
    return "missing" if shape is None else "x".join(map(str, shape))


def _data(fingerprint: dict[str, Any] | None) -> str:
    if not fingerprint:
        return "no record"
    return f"{fingerprint.get('size')} images, sha256 {str(fingerprint.get('sha256'))[:12]}"


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
    force_resume: bool = False,
    history: str | os.PathLike | None = None,
    bounds: Bounds = Bounds(),
    progress: bool = True,
) -> pd.DataFrame:
    """Train ``net`` for ``config.epochs`` epochs, evaluating on the test set after each.

    Args:
        net: the network (trained in place).
        train_x, train_y: ``(N, C, H, W)`` images in the net's dtype, ``(N,)`` int labels.
        test_x, test_y: the same for the test set.
        config: the run's :class:`TrainConfig`.
        checkpoint: a ``.npz`` path; if given, a checkpoint is written there after every
            epoch (atomically, see ``scratchnet/checkpoint.py``). An existing file is only
            ever continued (``resume``), never started over.
        resume: if the checkpoint exists, restore weights, optimizer state and history
            from it and continue with the next epoch. The result equals the uninterrupted
            run's bit for bit (except ``seconds``). Refused if the checkpoint was made with
            other settings, network dtype or data (:func:`resume_differences`).
        force_resume: continue such a checkpoint anyway (weights converted to the net's
            dtype; the optimizer starts afresh when its saved state does not fit).
        history: a CSV path; if given, the history so far is written there after every
            epoch (atomically), so a run that fails late keeps what it did.
        bounds: when the run counts as diverged.
        progress: show a progress bar per epoch.

    Returns:
        The history: one row per epoch with ``epoch, train_loss, train_acc, test_loss,
        test_acc, seconds`` and ``grad_norm.<layer>`` for each layer with parameters.

    Raises:
        OutputError: ``checkpoint`` or ``history`` cannot be written (before any work).
        CheckpointError, ResumeMismatchError: the checkpoint cannot be continued.
        DivergenceError: the run diverged; the checkpoint and history keep the last good
            epoch, and the message says which.
    """
    check_data(net, train_x, train_y, "train")
    check_data(net, test_x, test_y, "test")
    if resume and checkpoint is None:
        raise ValueError("train: resume=True needs checkpoint=<path>")
    check_outputs(checkpoint, history, resume)
    optimizer = make_optimizer(net, config)
    loss_fn = SoftmaxCrossEntropy()
    data = ({"train": describe_data(train_x, train_y), "test": describe_data(test_x, test_y)}
            if checkpoint is not None else {})
    rows: list[dict[str, Any]] = []
    if resume and os.path.exists(checkpoint):
        saved = load_checkpoint(checkpoint)
        rows = _restore(saved, net, optimizer, config, data, force_resume)

    def write_history() -> None:
        if history is not None:
            frame = pd.DataFrame(rows)
            write_atomically(history, lambda f: frame.to_csv(f, index=False))

    if len(rows) >= config.epochs:  # a finished run resumed: nothing left to train
        write_history()
    for epoch in range(len(rows) + 1, config.epochs + 1):  # epochs count from 1
        try:
            metrics = train_epoch(net, optimizer, loss_fn, train_x, train_y, config, epoch,
                                  progress, bounds)
            if not all(np.isfinite(p).all() for p in net.named_params().values()):
                raise DivergenceError(epoch, 0, 0, "the weights are NaN or infinite")
            test_loss, test_acc = evaluate(net, test_x, test_y)
            if not test_loss <= bounds.max_loss:  # also NaN
                raise DivergenceError(epoch, 0, 0, f"test loss {test_loss:.4g} is past the "
                                                   f"bound max_loss={bounds.max_loss:g}")
        except DivergenceError as err:
            raise DivergenceError(err.epoch, err.step, err.steps, err.reason,
                                   _what_is_kept(len(rows), checkpoint, history)) from None
        rows.append({"epoch": epoch, "train_loss": metrics.pop("train_loss"),
                     "train_acc": metrics.pop("train_acc"), "test_loss": test_loss,
                     "test_acc": test_acc, **metrics})
        if checkpoint is not None:
            save_checkpoint(checkpoint, net, optimizer, pd.DataFrame(rows), config, epoch, data)
        write_history()
    return pd.DataFrame(rows)


def _restore(saved: Checkpoint, net: Sequential, optimizer: Optimizer, config: TrainConfig,
             data: dict[str, dict[str, Any]], force: bool) -> list[dict[str, Any]]:
    """Load ``saved`` into ``net`` and ``optimizer``; its history rows.

    Raises:
        ResumeMismatchError: the checkpoint differs from this run, and not ``force``.
        CheckpointError: it cannot be loaded at all, or is past ``config.epochs``.
    """
    differences = resume_differences(saved, net, config, data)
    if differences and not force:
        raise ResumeMismatchError(saved.path, differences)
    if saved.epoch > config.epochs:
        raise CheckpointError(f"{saved.path}: checkpoint is at epoch {saved.epoch}, past "
                              f"this run's epochs={config.epochs}")
    net.load_params(saved.params)  # converted to the net's dtype when forced
    net.load_buffers(saved.buffers)
    try:
        optimizer.load_state_dict(saved.optimizer_state)
    except ValueError as err:
        if not differences:  # the same settings, so the state should have fit: damaged
            raise CheckpointError(f"{saved.path}: {err}") from None
        optimizer.load_state_dict(make_optimizer(net, config).state_dict())  # afresh
    return saved.history.to_dict("records")


def _what_is_kept(epochs: int, checkpoint: str | os.PathLike | None,
                  history: str | os.PathLike | None) -> str:
    """The end of a divergence message: what the run's files hold now."""
    files = [f"{what} {path}" for what, path in (("checkpoint", checkpoint),
                                                 ("history", history)) if path is not None]
    if not epochs:
        return "no epoch completed, nothing was saved"
    if not files:
        return f"the last good epoch was {epochs} (nothing was saved: no checkpoint or history)"
    return f"{' and '.join(files)} keep epoch{'s 1-' if epochs > 1 else ' '}{epochs}"


__all__ = [
    "OPTIMIZERS",
    "OPTIONS",
    "Bounds",
    "DivergenceError",
    "OptimizerKind",
    "OutputError",
    "ResumeMismatchError",
    "TrainConfig",
    "check_data",
    "check_outputs",
    "epoch_batches",
    "evaluate",
    "layer_grad_norms",
    "make_optimizer",
    "resume_differences",
    "train",
    "train_epoch",
]
