"""Mistakes in clipping the gradients by their global norm (``scratchnet.optim.
clip_grad_norm``, as ``torch.nn.utils.clip_grad_norm_``): whole functions, no plain class."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.optim import global_grad_norm


def clip_per_tensor(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Like ``clip_grad_norm``, but each gradient is clipped by its own norm."""
    total = global_grad_norm(grads)
    for g in grads.values():
        coef = max_norm / (np.linalg.norm(g) + 1e-6)
        if coef < 1.0:
            g *= coef
    return total


def clip_always_rescales(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Like ``clip_grad_norm``, but the gradients are scaled to ``max_norm`` whatever
    their norm."""
    total = global_grad_norm(grads)
    for g in grads.values():
        g *= max_norm / (total + 1e-6)
    return total


CATALOGUE = Catalogue(
    "clip", None, "clipping check", ("norm below max_norm",), ("clipped gradients", "norm"), (
        Mistake(
            "clip-per-tensor", "clip",
            "Each gradient is clipped by its own norm instead of all together by their "
            "global norm, which changes the direction of the step.",
            None, clip_per_tensor, "clipped gradients"),
        Mistake(
            "clip-always-rescales", "clip",
            "The gradients are scaled to max_norm even when their norm is already below it, "
            "which normalises them instead of clipping.",
            None, clip_always_rescales, "clipped gradients", "norm below max_norm"),
    ))
