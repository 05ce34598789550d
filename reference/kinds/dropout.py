"""Dropout (``torch.nn.Dropout``, no seed equation): its twin, its battery, its conditions,
its CS231n functions and its procedure.

Dropout is random, so its twin and its check cannot draw their own masks: the twin
applies the mask the layer itself drew (``layer.mask``, read at each forward), and the
check (``procedure``) reads the mask an implementation drew from its output and compares
with PyTorch under that mask (see ``DropoutProcedure``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from reference.twin import layer_setting

# ---- the twin ---------------------------------------------------------------------------


class MaskedDropout(nn.Module):
    """PyTorch's inverted dropout under the mask a layer drew: ``x * (mask / (1 - p))``,
    the mask scaled first as ``torch.nn.functional.dropout`` does (``0 * x`` when
    ``p = 1``), and the identity in eval mode.

    The mask is read from ``layer.mask`` (True or nonzero: kept) at every forward, so the
    twin repeats the layer's last training forward: run the layer first. It is in
    training mode only when both it and the layer are (``compare`` on a network in eval
    mode, or ``twin.eval()`` for an evaluation, both give the identity).
    """

    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.layer = layer
        self.p = float(layer_setting(layer, "p", 0.5, "dropout"))

    def extra_repr(self) -> str:
        return f"p={self.p}, the mask of {type(self.layer).__name__}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and getattr(self.layer, "training", True)):
            return x
        mask = getattr(self.layer, "mask", None)
        if mask is None:
            raise RuntimeError(f"the dropout twin applies the mask of the layer's last "
                               f"training forward, and {type(self.layer).__name__} has "
                               f"drawn none yet: run the layer first")
        keep = torch.from_numpy(np.asarray(mask) != 0)
        if keep.shape != x.shape:
            raise RuntimeError(f"the dropout twin got an input of shape {tuple(x.shape)}, the "
                               f"layer's mask is {tuple(keep.shape)}: run the layer on the "
                               f"same batch first")
        scale = 0.0 if self.p == 1 else 1 / (1 - self.p)
        return x * (keep.to(x.dtype) * scale)


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    return MaskedDropout(layer)


def rebuild(layer: Any, input_shape: tuple[int, ...]) -> tuple[tuple, dict[str, Any]]:
    return (float(layer_setting(layer, "p", 0.5, "dropout")),), {}
