"""Calling code the checker does not trust: what it raised, where, and what it returned.

Everything an implementation under check computes goes through these: an exception from
its code becomes a sentence with its type, message and the file and line in the user's
code where it was raised (``raised``); a result of the wrong sort (a tuple where an array
belongs, None, text) becomes a ``ProtocolError`` that says what was expected
(``as_array``). Both are reported once, as what they are, never as a numerical
disagreement.
"""

from __future__ import annotations

import sys
import sysconfig
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

#: Files that are not the user's: the checker's own, scratchnet's, and every installed or
#: standard-library module (numpy's, torch's, ...).
_NOT_USERS = tuple(str(Path(p).resolve()) for p in {
    Path(__file__).resolve().parent,                       # reference/
    Path(__file__).resolve().parents[1] / "scratchnet",
    sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
    sysconfig.get_paths()["platlib"], sys.prefix, sys.base_prefix,
})


#: What the user's code may raise that the check reports in words: any exception, and
#: SystemExit (a ``sys.exit()`` in a layer); not KeyboardInterrupt, the user's own Ctrl-C.
USER_ERRORS = (Exception, SystemExit)


class ProtocolError(Exception):
    """An implementation's result is not of the form its style promises (a tuple where
    one array belongs, None for a gradient, an array of the wrong rank): said in words,
    with what was expected."""


class NotSupportedError(Exception):
    """An implementation cannot be built in a configuration by its own declaration (no
    bias where the configuration has one, one input channel where it has two): the
    configuration is reported as not supported by it, with this message."""


@contextmanager
def quiet() -> Iterator[None]:
    """No floating-point warnings from the code under check (its results show them)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def is_users(filename: str) -> bool:
    """Whether ``filename`` is the user's code (not the checker's, scratchnet's, Python's
    or an installed package's)."""
    try:
        path = str(Path(filename).resolve())
    except (OSError, RuntimeError):
        return False
    return not filename.startswith("<") and not path.startswith(_NOT_USERS)


def user_location(err: BaseException) -> str | None:
    """``"layers.py, line 31"``: the innermost frame of ``err``'s traceback in the user's
    code, or None when none is (the error came from the checker's side)."""
    if isinstance(err, SyntaxError) and err.filename and err.lineno:
        return f"{Path(err.filename).name}, line {err.lineno}"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if is_users(f.filename)]
    return f"{Path(frames[-1].filename).name}, line {frames[-1].lineno}" if frames else None


def raised(what: str, err: BaseException) -> str:
    """``"<what> raised <Type>: <first line of the message>"`` (no location: two
    implementations raising the same error in different files say the same)."""
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{what} raised {type(err).__name__}" + (f": {message[:200]}" if message else "")


def describe_value(value: Any) -> str:
    """What ``value`` is, in a few words: ``"a tuple of 2"``, ``"None"``, ``"a str"``."""
    if value is None:
        return "None"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def unpack(result: Any, names: tuple[str, ...], function: str) -> tuple:
    """``result`` as the tuple ``names`` says it is (CS231n's ``(out, cache)``), or a
    ProtocolError naming what ``function`` returned instead."""
    if not isinstance(result, tuple | list) or len(result) != len(names):
        raise ProtocolError(f"{function} returned {describe_value(result)}: it must return "
                            f"({', '.join(names)})")
    return tuple(result)


def as_array(value: Any, what: str, expected: str) -> np.ndarray:
    """``value`` as a float array, or a ``ProtocolError`` saying ``what`` returned
    instead of ``expected``: a tuple, None, or anything NumPy cannot read as numbers."""
    if isinstance(value, np.ndarray | np.generic | float | int) and not isinstance(value, bool):
        array = np.asarray(value)
        if array.dtype.kind in "fiu":
            return array
    elif isinstance(value, tuple | list):
        raise ProtocolError(f"{what} returned {describe_value(value)}: it must return "
                              f"{expected} alone")
    raise ProtocolError(f"{what} returned {describe_value(value)}: it must return {expected}")
