"""The workloads the benchmark compares, as zero-argument functions ready to be timed.

A training step (forward, loss, backward, SGD with momentum) and an inference pass, each for
scratchnet and for its PyTorch twin, on a random batch of MNIST-shaped images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from scratchnet import Sequential, SoftmaxCrossEntropy
from scratchnet.optim import SGD

INPUT_SHAPE = (1, 28, 28)          # one MNIST image
LR, MOMENTUM = 0.01, 0.9           # the SGD settings of every training step
INFER_BATCH = 1000                 # images per call of an inference pass


def random_batch(batch: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images uniform in [0, 1) of shape ``(batch, 1, 28, 28)`` and labels in 0..9."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, *INPUT_SHAPE)).astype(dtype)
    return x, rng.integers(0, 10, size=batch)


def scratchnet_train_step(net: Sequential, x: np.ndarray, labels: np.ndarray,
                          input_grad: bool = False) -> Callable[[], None]:
    """A function doing one scratchnet training step on ``(x, labels)``.

    ``input_grad``: the README's path, ``net.backward(loss.backward())``, which also
    computes the gradient of the input images; by default the training loop's, which
    skips it (``need_input_grad=False``), as PyTorch does for an input that does not
    require one.
    """
    loss, opt = SoftmaxCrossEntropy(), SGD(net, lr=LR, momentum=MOMENTUM)

    def step() -> None:
        loss.forward(net.forward(x), labels)
        net.backward(loss.backward(), need_input_grad=input_grad)
        opt.step()

    return step


def torch_train_step(model: torch.nn.Module, x: np.ndarray, labels: np.ndarray
                     ) -> Callable[[], None]:
    """A function doing one torch training step on ``(x, labels)``."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xt), yt).backward()
        opt.step()

    return step


def scratchnet_infer(net: Sequential, x: np.ndarray) -> Callable[[], None]:
    """A function predicting the classes of all of ``x``, ``INFER_BATCH`` images at a
    time."""
    def run() -> None:
        for i in range(0, len(x), INFER_BATCH):
            net.predict(x[i : i + INFER_BATCH])

    return run


def torch_infer(model: torch.nn.Module, x: np.ndarray) -> Callable[[], None]:
    """The torch twin of :func:`scratchnet_infer`, under ``torch.inference_mode()``."""
    xt = torch.from_numpy(x)

    def run() -> None:
        with torch.inference_mode():
            for i in range(0, len(xt), INFER_BATCH):
                model(xt[i : i + INFER_BATCH]).argmax(dim=1)

    return run
