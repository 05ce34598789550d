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

The options several commands share are defined here once (:func:`network_arguments`,
:func:`data_arguments`, :func:`smoke_arguments`), their choices taken from the library's
own constants (``VARIANTS``, ``BIAS_MODES``, ``FLOAT_DTYPE_NAMES``, ``DATASETS``), so that a
command accepts exactly what the library does.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import platformdirs

from scratchnet.data.datasets import DATASETS
from scratchnet.layers.base import FLOAT_DTYPE_NAMES
from scratchnet.layers.conv import BIAS_MODES
from scratchnet.network import VARIANTS

DTYPES = FLOAT_DTYPE_NAMES
NO_BIAS = "none"                                            # --bias's word for bias=None
BIASES = tuple(NO_BIAS if mode is None else mode for mode in BIAS_MODES)


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


def bias_mode(word: str) -> str | None:
    """The ``bias`` argument of ``seed_network`` for a ``--bias`` word of ``BIASES``."""
    return None if word == NO_BIAS else word


def network_arguments(parser: argparse.ArgumentParser) -> None:
    """``--variant``, ``--bias``, ``--dtype``, ``--seed``: which ``seed_network`` to build."""
    parser.add_argument("--variant", choices=VARIANTS, default="full",
                        help="the seed's full network or the shallow one (default: full)")
    parser.add_argument("--bias", choices=BIASES, default="untied",
                        help="convolution bias: the seed's untied, PyTorch's tied, or none")
    parser.add_argument("--dtype", choices=DTYPES, default="float64")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="initialization seed, >= 0")


def data_arguments(parser: argparse.ArgumentParser, choose_dataset: bool = True) -> None:
    """``--dataset`` (with ``choose_dataset``), ``--data-dir``, ``--no-download``: where
    the data comes from."""
    if choose_dataset:
        parser.add_argument("--dataset", choices=tuple(DATASETS), default="mnist")
    parser.add_argument("--data-dir", help="read the dataset from this directory (DIR or "
                                           "DIR/<dataset>) and nowhere else")
    parser.add_argument("--no-download", action="store_true", help="never download data")


def smoke_arguments(parser: argparse.ArgumentParser, committed: Path, quick: str) -> None:
    """``--quick`` (a smoke run: ``quick`` says what it does) and ``--out``, the output
    directory, as :func:`output_dir` chooses it."""
    parser.add_argument("--quick", action="store_true",
                        help=f"{quick}; it writes to the user cache unless --out says where, "
                             "and never over the committed results")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output directory (default: {committed}; with --quick the user "
                             "cache)")


def progress_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


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


__all__ = ["BIASES", "DTYPES", "NO_BIAS", "UsageError", "bias_mode", "data_arguments",
           "fraction", "network_arguments", "non_negative_float", "non_negative_int",
           "output_dir", "output_error", "positive_float", "positive_int", "positive_ints",
           "progress_argument", "smoke_arguments", "smoke_dir", "words_from"]
