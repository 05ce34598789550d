"""What sets the battery's configurations apart, in words: the conditions a diagnosis
names when a layer goes wrong in exactly the configurations that have one ("only with
stride > 1"). A condition reads the configuration and its input (ties and exact zeros
are in the data, not the settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference.check.battery import Configuration

#: ``(words, predicate(configuration, input))``.
Condition = tuple[str, Callable[[Configuration, np.ndarray], bool]]


def _batch(c: Configuration, x: np.ndarray) -> bool:
    return c.shape[0] > 1


def _setting(name: str, test: Callable[[Any], bool]) -> Callable[[Configuration, np.ndarray],
                                                                   bool]:
    """The predicate ``test(configuration.settings[name])``."""
    return lambda c, x: test(c.settings[name])


def _negate(pred: Callable[[Configuration, np.ndarray], bool]):
    return lambda c, x: not pred(c, x)


def _odd(c: Configuration, x: np.ndarray) -> bool:
    k, stride = c.settings["kernel"], c.settings["stride"]
    return (c.shape[2] - k) % stride != 0 or (c.shape[3] - k) % stride != 0


def _ties(c: Configuration, x: np.ndarray) -> bool:
    """Whether some pooling window of ``x`` holds its maximum more than once."""
    k, s = c.settings["kernel"], c.settings["stride"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[
        :, :, ::s, ::s]
    maxima = windows.max(axis=(-2, -1), keepdims=True)
    return bool(((windows == maxima).sum(axis=(-2, -1)) > 1).any())


def _square(c: Configuration, x: np.ndarray) -> bool:
    s = c.settings
    return s.get("in_channels", s.get("in_features")) == s.get("out_channels",
                                                                s.get("out_features"))


def _overlap(c: Configuration, x: np.ndarray) -> bool:
    return c.settings["stride"] < c.settings["kernel"]


def _zeros(c: Configuration, x: np.ndarray) -> bool:
    return bool((x == 0).any())


def _large(c: Configuration, x: np.ndarray) -> bool:
    return bool(np.abs(x).max() > 100)


def _strided(c: Configuration, x: np.ndarray) -> bool:
    return not c.contiguous


#: Per kind, what a configuration (and its input) has, in words that complete "only
#: with ...". Both sides of a distinction are listed, so either may be the one.
CONDITIONS: dict[str, list[Condition]] = {
    "conv2d": [
        ("batch > 1", _batch), ("a batch of one", _negate(_batch)),
        ("stride > 1", _setting("stride", lambda s: s > 1)),
        ("stride 1", _setting("stride", lambda s: s == 1)),
        ("padding > 0", _setting("padding", lambda p: p > 0)),
        ("no padding", _setting("padding", lambda p: p == 0)),
        ("an untied bias", _setting("bias", lambda b: b == "untied")),
        ("a tied bias", _setting("bias", lambda b: b == "tied")),
        ("no bias", _setting("bias", lambda b: b is None)),
        ("a bias", _setting("bias", lambda b: b is not None)),
        ("as many channels in as out", _square),
        ("more or fewer channels out than in", _negate(_square)),
        ("a kernel larger than 1x1", _setting("kernel", lambda k: k > 1)),
        ("a non-contiguous input", _strided),
    ],
    "maxpool2d": [
        ("ties (windows holding their maximum twice)", _ties), ("no ties", _negate(_ties)),
        ("overlapping windows", _overlap), ("windows that do not overlap", _negate(_overlap)),
        ("odd size (rows or columns left over)", _odd),
        ("no rows or columns left over", _negate(_odd)),
        ("stride beyond the window", lambda c, x: c.settings["stride"] > c.settings["kernel"]),
        ("batch > 1", _batch),
        ("a non-contiguous input", _strided),
    ],
    "dense": [
        ("batch > 1", _batch), ("a batch of one", _negate(_batch)),
        ("a square weight", _square), ("a weight that is not square", _negate(_square)),
        ("a non-contiguous input", _strided),
    ],
    "relu": [
        ("exact zeros in the input", _zeros), ("no exact zeros", _negate(_zeros)),
        ("more than two axes", lambda c, x: len(c.shape) > 2),
        ("a non-contiguous input", _strided),
    ],
    "softmax-ce": [
        ("batch > 1", _batch), ("a batch of one", _negate(_batch)),
        ("large logits (beyond 100)", _large), ("logits of ordinary size", _negate(_large)),
        ("equal logits", lambda c, x: bool((x == x[:, :1]).all())),
        ("a class far below the best (its probability underflows to 0)",
         lambda c, x: bool((np.ptp(x, axis=1) > 745).any())),   # exp(-746) is 0
    ],
}
