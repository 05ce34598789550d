"""What the ``scratchnet`` commands accept, and how a user's mistake is reported.

Every command reports a mistake the same way, in one line that names the flag:

* a malformed value (``--epochs 0``, ``--lr nan``, an unknown choice) is refused by
  argparse while parsing, through the value types below: its usage line, then
  ``scratchnet train: error: argument --epochs: expected an integer >= 1, got '0'``;
* a mistake found after parsing (flags that do not go together, an output path that
  cannot be written, a ``--data-dir`` without the data) raises :class:`UsageError`, whose
  message starts with the flag; ``reports.cli.main`` catches it once for every command,
  prints ``scratchnet COMMAND: error: MESSAGE`` and exits with status 2.

A smoke run (``--quick``) never replaces committed results: :func:`output_dir` sends it to
the user cache unless ``--out`` names another place, and refuses the committed one.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import platformdirs


class UsageError(Exception):
    """A user's mistake in a command's arguments, found after parsing.

    The message names the flag and what was expected, e.g. ``"--momentum: is for --optimizer
    sgd; adam has its own betas"``.
    """


def _parse(text: str, kind: Callable[[str], float], ok: Callable[[float], bool],
           expected: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (epochs, batch sizes, image counts)."""
    return int(_parse(text, int, lambda v: v >= 1, "an integer >= 1"))


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (seeds)."""
    return int(_parse(text, int, lambda v: v >= 0, "an integer >= 0"))


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (learning rates, norms, bounds, seconds)."""
    return _parse(text, float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0 (weight decay)."""
    return _parse(text, float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1) (momentum)."""
    return _parse(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def positive_ints(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated integers >= 1, e.g. ``1,16,64``."""
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers >= 1 (e.g. 1,16,64), got {text!r}") from None


def words_from(choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated words, each one of ``choices``."""
    def words(text: str) -> tuple[str, ...]:
        parts = tuple(part.strip() for part in text.split(","))
        if not all(part in choices for part in parts):
            raise argparse.ArgumentTypeError(
                f"expected comma-separated values from {', '.join(choices)}, got {text!r}")
        return parts

    words.__name__ = "words_from"
    return words


def output_error(flag: str, path: str | os.PathLike, err: OSError) -> UsageError:
    """The :class:`UsageError` for an output ``path`` (or a file in it) that ``err`` says
    cannot be written."""
    inside = "" if err.filename in (None, str(path)) else f"{err.filename}: "
    return UsageError(f"{flag} {path}: {inside}{err.strerror or err}")


def smoke_dir(name: str) -> Path:
    """Where a ``--quick`` run of ``name`` (``"accuracy"``, ``"speed"``) writes by default."""
    return Path(platformdirs.user_cache_dir("scratchnet")) / "smoke" / name


def output_dir(out: Path | None, quick: bool, committed: Path, name: str) -> Path:
    """The directory a report writes: ``--out``, else ``committed`` (or, quick, the cache).

    A ``--quick`` smoke run never writes into ``committed``, the directory of the results
    in the repository; by default it writes to :func:`smoke_dir`.

    Raises:
        UsageError: ``quick`` and ``out`` is ``committed``.
    """
    if out is None:
        return smoke_dir(name) if quick else committed
    if quick and Path(out).resolve() == committed.resolve():
        raise UsageError(f"--out {out}: a --quick smoke run never replaces the committed "
                         f"results there; leave out --out (it writes to {smoke_dir(name)}) "
                         "or name another directory")
    return Path(out)


__all__ = ["UsageError", "fraction", "non_negative_float", "non_negative_int", "output_dir",
           "output_error", "positive_float", "positive_int", "positive_ints", "smoke_dir",
           "words_from"]
