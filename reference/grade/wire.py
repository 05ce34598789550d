"""What a submission's process sends the grader: frames of JSON and ``.npz`` arrays, never
pickle.

A frame is ``MAGIC``, the JSON header's length (8 bytes, big-endian), the header, the
``.npz`` archive's length and the archive. The grader reads the archives with
``np.load(..., allow_pickle=False)`` and accepts only arrays of numbers, so whatever the
submission's code writes into the pipe (it runs in the same process as the sender and can
write anything) is data to check, never code to run.

``encode`` and ``decode`` turn a plain dataclass (``reference.check.run.Run``) into a
header and arrays and back, generically over its ``dataclasses.fields``: arrays go into the
archive, strings, numbers, booleans, None, lists, tuples and dicts with string keys into
the JSON; ``decode`` checks every value against the field's type annotation, so a frame
that claims a string where an array belongs is refused rather than judged.
"""

from __future__ import annotations

import dataclasses
import io
import json
import types
import typing
from typing import Any

import numpy as np

MAGIC = b"SNG1"
_LENGTH = 8


class WireError(ValueError):
    """A frame that is not what the grader's own sender writes."""


def frame(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One frame: ``header`` as JSON, ``arrays`` as an ``.npz`` archive."""
    text = json.dumps(header).encode()
    archive = io.BytesIO()
    np.savez(archive, **(arrays or {}))
    data = archive.getvalue()
    return (MAGIC + len(text).to_bytes(_LENGTH, "big") + text
            + len(data).to_bytes(_LENGTH, "big") + data)


def frames(data: bytes) -> tuple[list[tuple[dict[str, Any], dict[str, np.ndarray]]], str | None]:
    """The frames in ``data``, and what is wrong after the last good one (None if
    nothing)."""
    out, at = [], 0
    while at < len(data):
        try:
            header, arrays, at = _one(data, at)
        except (WireError, ValueError, OSError, EOFError) as err:
            return out, f"malformed results after {len(out)} frames: {err}"
        out.append((header, arrays))
    return out, None


def _one(data: bytes, at: int) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
    if data[at:at + len(MAGIC)] != MAGIC:
        raise WireError("not a frame")
    at += len(MAGIC)
    parts = []
    for _ in range(2):
        if at + _LENGTH > len(data):
            raise WireError("cut short")
        n = int.from_bytes(data[at:at + _LENGTH], "big")
        at += _LENGTH
        if at + n > len(data):
            raise WireError("cut short")
        parts.append(data[at:at + n])
        at += n
    header = json.loads(parts[0])
    if not isinstance(header, dict):
        raise WireError("the header is not a JSON object")
    with np.load(io.BytesIO(parts[1]), allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, array in arrays.items():
        if array.dtype.kind not in "biufc":
            raise WireError(f"array {key!r} holds {array.dtype}, not numbers")
    return header, arrays, at


# ---- a dataclass of plain data, both ways ----------------------------------------------

def encode(obj: Any, prefix: str) -> tuple[Any, dict[str, np.ndarray]]:
    """``obj`` (a dataclass, or any plain value inside one) as JSON-able data whose arrays
    are replaced by ``{"$array": key}``, and those arrays by key (``prefix`` + a number).
    Arrays of anything but numbers, and values of other types, become ``{"$refused":
    "<type>"}``, which ``decode`` rejects."""
    arrays: dict[str, np.ndarray] = {}

    def walk(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: walk(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, np.ndarray | np.generic):
            array = np.asarray(value)
            if array.dtype.kind not in "biufc":
                return {"$refused": f"an array of {array.dtype}"}
            key = f"{prefix}{len(arrays)}"
            arrays[key] = array
            return {"$array": key}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, dict):
            return {"$dict": [[walk(k), walk(v)] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {"$tuple": [walk(v) for v in value]}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return {"$refused": type(value).__name__}

    return walk(obj), arrays


def decode(cls: type, data: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The ``cls`` (a dataclass) that ``encode`` gave ``data`` for, each field checked
    against its annotation; WireError when something does not fit."""
    hints = typing.get_type_hints(cls)
    if not isinstance(data, dict) or set(data) != set(hints):
        raise WireError(f"a {cls.__name__} needs the fields {sorted(hints)}")
    return cls(**{name: _value(hints[name], data[name], arrays, name)
                  for name in hints})


def _value(hint: Any, data: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """``data`` decoded as the type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _value(option, data, arrays, where)
            except WireError:
                continue
        raise WireError(f"{where}: {_short(data)} is none of {hint}")
    if hint is type(None):
        if data is None:
            return None
    elif hint is np.ndarray:
        if isinstance(data, dict) and set(data) == {"$array"} and data["$array"] in arrays:
            return arrays[data["$array"]]
    elif hint is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
    elif hint in (bool, int, str):
        if type(data) is hint:
            return data
    elif origin is dict:
        if isinstance(data, dict) and set(data) == {"$dict"} and isinstance(data["$dict"], list):
            out = {}
            for pair in data["$dict"]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise WireError(f"{where}: not a key and a value")
                out[_value(args[0], pair[0], arrays, where)] = _value(args[1], pair[1], arrays,
                                                                     f"{where}[{pair[0]!r}]")
            return out
    elif origin is tuple:
        if isinstance(data, dict) and set(data) == {"$tuple"} and isinstance(data["$tuple"], list):
            items = data["$tuple"]
            kinds = [args[0]] * len(items) if len(args) == 2 and args[1] is ... else list(args)
            if len(kinds) == len(items):
                return tuple(_value(k, v, arrays, where) for k, v in zip(kinds, items,
                                                                        strict=True))
    elif origin is list:
        if isinstance(data, list):
            return [_value(args[0], v, arrays, where) for v in data]
    elif hint is typing.Any:
        raise WireError(f"{where}: a field of any type cannot cross (annotate it)")
    raise WireError(f"{where}: {_short(data)} is not {hint}")


def _short(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."
