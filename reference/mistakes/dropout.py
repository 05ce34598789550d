"""Mistakes in dropout (``torch.nn.Dropout``, no seed equation), and the plain Dropout they
are made in. Every variant draws its masks from NumPy's global generator, as course code
does (``np.random.rand``), which the check seeds per call."""

from __future__ import annotations

import numpy as np

from reference.kinds.dropout import DROP_RATE, EVAL, NEW_MASK, TRAINING
from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.layers import Dropout


class PlainDropout(Dropout):
    """Inverted dropout in plain NumPy, one step per method: ``drops`` (training mode),
    ``mask_for`` (a new keep mask each call, ``rand >= p``), ``multiplier`` (the mask
    scaled by ``1 / (1 - p)``; ones in eval mode); ``y = x * multiplier``, ``dx = dy *
    multiplier``. ``mask`` keeps the last training mask, as scratchnet's ``Dropout``."""

    def drops(self) -> bool:
        return self.training

    def mask_for(self, x: np.ndarray) -> np.ndarray:
        if self._next_mask is not None:                     # use_mask, as Dropout's
            keep, self._next_mask = self._next_mask, None
            return keep
        return np.random.rand(*x.shape) >= self.p

    def multiplier(self, keep: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        if keep is None:                                    # eval mode: the identity
            return np.ones(shape)
        return keep / (1 - self.p) if self.p < 1 else keep * 0.0

    def forward(self, x: np.ndarray) -> np.ndarray:
        keep = None
        if self.drops():
            keep = self.mask = self.mask_for(x)
        self._m = self.multiplier(keep, x.shape)
        return x * self._m

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self._m


# Real code (the "non-inverted" dropout of the original paper and of early course notes):
# `out = x * mask` in training and `out = x * p_keep` at test time.
class NotInverted(PlainDropout):
    def multiplier(self, keep: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, 1 - self.p) if keep is None else keep * 1.0


# Real code: `if self.mask is None: self.mask = np.random.rand(*x.shape) > p` in forward
# (the mask drawn on the first call and kept), and CS231n functions seeding NumPy with the
# same dropout_param['seed'] at every call.
class MaskReused(PlainDropout):
    def mask_for(self, x: np.ndarray) -> np.ndarray:
        if self.mask is None or self.mask.shape != x.shape:
            return super().mask_for(x)
        return self.mask


# Real code: `dx = dout / (1 - p)`: the backward rescales the upstream gradient but never
# multiplies it by the mask, so dropped values get a gradient.
class BackwardWithoutMask(PlainDropout):
    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y / (1 - self.p) if self.drops() else grad_y


# Real code: `mask = (np.random.rand(*x.shape) > p) / p`: the drop probability used to
# draw, the keep probability's formula to scale (two conventions of p mixed).
class ScaleByP(PlainDropout):
    def multiplier(self, keep: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        return np.ones(shape) if keep is None else keep / self.p


# Real code: a forward that draws and applies the mask whatever the mode (no `training`
# or `mode` test), so evaluation is random and scaled.
class DropsInEvalMode(PlainDropout):
    def drops(self) -> bool:
        return True


CATALOGUE = Catalogue(
    "dropout", PlainDropout, "dropout check",
    shows_on=("p other than 0.5",),
    quantities=(*TRAINING, NEW_MASK, DROP_RATE, *EVAL),
    mistakes=(
    Mistake(
        "dropout-not-inverted", "dropout",
        "Dropout is not inverted: kept values are not scaled by 1/(1-p) in training, and "
        "the output is scaled by 1-p in eval mode instead; PyTorch scales in training and "
        "is the identity in eval mode.",
        None, NotInverted, "output"),
    Mistake(
        "dropout-mask-reused", "dropout",
        "The mask is drawn once and reused by every later call, so the same values are "
        "dropped every time.",
        None, MaskReused, NEW_MASK),
    Mistake(
        "dropout-backward-without-mask", "dropout",
        "The backward pass scales the upstream gradient but does not multiply it by the "
        "mask: dropped values get a gradient.",
        None, BackwardWithoutMask, "grad input"),
    Mistake(
        "dropout-scale-by-p", "dropout",
        "Kept values are scaled by 1/p instead of 1/(1-p) (p is the drop probability): "
        "right only at p = 0.5.",
        None, ScaleByP, "output", "p other than 0.5"),
    Mistake(
        "dropout-in-eval-mode", "dropout",
        "The layer drops values in eval mode too: it never looks at its mode.",
        None, DropsInEvalMode, "eval output"),
))
