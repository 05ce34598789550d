"""Checkpoints: a training run's whole state in one ``.npz`` file, written atomically.

A checkpoint holds everything needed to continue a run exactly where it stopped::

    param.<key>      every network parameter        e.g. param.conv1.weight
    buffer.<key>     every layer buffer             e.g. buffer.bn1.running_mean
    optim.<key>      every optimizer state array    e.g. optim.step, optim.exp_avg.fc1.bias
    history.<col>    every history column           e.g. history.train_loss
    epoch            0-d int64: the last completed epoch
    meta             0-d unicode array: a JSON object with the config, a description of
                     the network and of the data it was trained on, and the lists of keys
                     above (so a missing one is named)

The meta's network description names each buffer's dtype and shape (a running statistic
is in the network's dtype, a batch counter int64). A version-2 checkpoint, written before
layers had buffers, reads as one without any.

Every entry is a plain numeric or unicode array. Loading reads the zip archive entry by
entry with ``numpy.lib.format`` and looks at each entry's header before its data: an entry
of Python objects is refused unread, so loading a checkpoint never unpickles anything and
never runs code. Any file at all may be handed to :func:`load_checkpoint`; whatever is
wrong with it (not a zip, a zip of other things, missing, mistyped or malformed entries or
metadata, values that are not finite) ends in one :class:`CheckpointError` line that
names the file and the problem.

Atomic writing (``scratchnet.atomic.write_atomically``): the file is first written in
full to a temporary file in the same directory, flushed to disk (``fsync``), and only then
moved over the old checkpoint with ``os.replace``, which is atomic. A crash while writing
leaves the previous checkpoint intact, never a half-written one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from scratchnet.atomic import write_atomically
from scratchnet.layers.base import FLOAT_DTYPE_NAMES
from scratchnet.network import Sequential

FORMAT = "scratchnet-checkpoint"
VERSION = 3  # 2: meta holds "data", the fingerprints of the training and test sets;
#              3: buffer.<key> entries, and network "buffers" (dtype, shape) in meta
READABLE_VERSIONS = (2, 3)  # a version 2 checkpoint has no buffers
DTYPES = FLOAT_DTYPE_NAMES  # the dtypes a network may have, by name
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}


class CheckpointError(ValueError):
    """A file given as a checkpoint is not a whole, valid scratchnet checkpoint."""


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read from a checkpoint file.

    Attributes:
        path: the file it was read from.
        epoch: the last completed epoch.
        params: ``named_params()``-style dict of the network's weights.
        buffers: ``named_buffers()``-style dict of its layers' buffers (empty for a
            network without, and for a version 2 checkpoint).
        optimizer_state: the optimizer's ``state_dict()``.
        history: one row per completed epoch (as ``train`` returns it).
        config: the ``TrainConfig`` fields, as a dict (``TrainConfig(**config)`` rebuilds it).
        network: :func:`describe_network` of the network that was trained.
        data: :func:`describe_data` of each data set it was trained and tested on, by name
            (``"train"``, ``"test"``); empty if the run did not record them.
    """

    path: Path
    epoch: int
    params: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray]
    history: pd.DataFrame
    config: dict[str, Any]
    network: dict[str, Any]
    data: dict[str, dict[str, Any]]
    buffers: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def describe_network(net: Sequential) -> dict[str, Any]:
    """A JSON-ready description of ``net``: dtype, layers (their repr), param shapes and
    buffers (``{"dtype": name, "shape": [...]}`` each).

    Two networks with equal descriptions can load each other's weights and train alike.
    """
    return {
        "dtype": str(net.dtype),
        "layers": {name: repr(layer) for name, layer in net.layers.items()},
        "params": {key: list(p.shape) for key, p in net.named_params().items()},
        "buffers": {key: {"dtype": b.dtype.name, "shape": list(b.shape)}
                    for key, b in net.named_buffers().items()},
    }


def describe_data(x: np.ndarray, y: np.ndarray, chunk: int = 4096) -> dict[str, Any]:
    """The fingerprint of a data set: its size and the SHA-256 of its values.

    The hash covers the labels (as int64) and the images' values rounded to float32, so
    the same images give the same fingerprint in float32 and float64 (a change of dtype is
    told apart by the network's description instead; MNIST's ``k / 255`` round to the
    same float32 either way). About a quarter of a second for all of MNIST.

    Args:
        x: images ``(N, C, H, W)``; y: labels ``(N,)``.
    """
    digest = hashlib.sha256()
    digest.update(repr(x.shape[1:]).encode())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).data)
    for start in range(0, len(x), chunk):
        digest.update(np.ascontiguousarray(x[start : start + chunk], dtype=np.float32).data)
    return {"size": len(x), "sha256": digest.hexdigest()}


def save_checkpoint(
    path: str | os.PathLike,
    net: Sequential,
    optimizer: Any,
    history: pd.DataFrame,
    config: Any,
    epoch: int,
    data: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write the run's state to ``path`` (one ``.npz``, exactly that name), atomically.

    Args:
        path: the checkpoint file; its directory must exist.
        net: the network; its parameters and buffers are saved.
        optimizer: anything with ``state_dict() -> dict[str, np.ndarray]``.
        history: the history so far, one row per epoch (numeric columns).
        config: the run's ``TrainConfig`` (anything with ``to_dict()``).
        epoch: the last completed epoch.
        data: :func:`describe_data` of the run's data sets, by name (e.g. ``"train"``).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    arrays.update({f"param.{k}": v for k, v in net.named_params().items()})
    arrays.update({f"buffer.{k}": v for k, v in net.named_buffers().items()})
    optim_state = optimizer.state_dict()
    arrays.update({f"optim.{k}": np.asarray(v) for k, v in optim_state.items()})
    arrays.update({f"history.{c}": history[c].to_numpy() for c in history.columns})
    arrays["epoch"] = np.array(epoch, dtype=np.int64)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        "network": describe_network(net),
        "data": {name: dict(fingerprint) for name, fingerprint in (data or {}).items()},
        "optimizer_keys": list(optim_state),
        "history_columns": [str(c) for c in history.columns],
    }
    arrays["meta"] = np.array(json.dumps(meta))
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f"save_checkpoint: {key} has dtype object, which would need pickle")

    write_atomically(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: nothing at ``path``.
        CheckpointError: anything else wrong with the file, in one line that names it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint file at {path}")

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {problem}")

    entries = _read_entries(path, fail)
    meta = _read_meta(entries, fail)
    network = meta["network"]
    dtype = np.dtype(network["dtype"])

    def entry(key: str, kinds: str) -> np.ndarray:
        if key not in entries:
            raise fail(f"checkpoint has no entry {key!r}")
        value = entries[key]
        if value.dtype.kind not in kinds:
            expected = {"iu": "integer", "f": "floating-point"}.get(kinds, "numeric")
            raise fail(f"entry {key!r} has dtype {value.dtype}, expected {expected} values")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise fail(f"entry {key!r} holds NaN or infinite values")
        return value

    expected = {"meta", "epoch", *(f"param.{k}" for k in network["params"]),
                *(f"buffer.{k}" for k in network["buffers"]),
                *(f"optim.{k}" for k in meta["optimizer_keys"]),
                *(f"history.{c}" for c in meta["history_columns"])}
    unexpected = sorted(set(entries) - expected)
    if unexpected:
        raise fail(f"checkpoint has unexpected entries {unexpected[:3]}")

    epoch_entry = entry("epoch", "iu")
    if epoch_entry.shape != () or epoch_entry < 0:
        got = epoch_entry.tolist() if epoch_entry.size < 5 else f"shape {epoch_entry.shape}"
        raise fail(f"entry 'epoch' must be one integer >= 0, got {got}")
    epoch = int(epoch_entry)

    params = {}
    for key, shape in network["params"].items():
        value = entry(f"param.{key}", "f")
        if value.dtype != dtype or value.shape != tuple(shape):
            raise fail(f"entry 'param.{key}' is {value.dtype} {value.shape}, its network "
                       f"says {dtype} {tuple(shape)}")
        params[key] = value
    buffers = {}
    for key, spec in network["buffers"].items():
        value = entry(f"buffer.{key}", "iuf")
        if value.dtype.name != spec["dtype"] or value.shape != tuple(spec["shape"]):
            raise fail(f"entry 'buffer.{key}' is {value.dtype} {value.shape}, its network "
                       f"says {spec['dtype']} {tuple(spec['shape'])}")
        buffers[key] = value
    optimizer_state = {key: entry(f"optim.{key}", "iuf") for key in meta["optimizer_keys"]}

    columns = {}
    for column in meta["history_columns"]:
        value = entry(f"history.{column}", "iufb")
        if value.shape != (epoch,):
            raise fail(f"entry 'history.{column}' has shape {value.shape}, expected "
                       f"({epoch},): one value per completed epoch")
        columns[column] = value
    history = pd.DataFrame(columns)
    if "epoch" in history and history["epoch"].tolist() != list(range(1, epoch + 1)):
        raise fail(f"its history's epochs are not 1..{epoch}")
    return Checkpoint(path=path, epoch=epoch, params=params, optimizer_state=optimizer_state,
                      history=history, config=meta["config"], network=network,
                      data=meta["data"], buffers=buffers)


def _read_entries(path: Path, fail) -> dict[str, np.ndarray]:
    """Every entry of the ``.npz`` at ``path``, read without pickle (headers first)."""
    if not path.is_file():
        raise fail("not a file")
    with open(path, "rb") as f:
        start = f.read(6)
    if start == b"\x93NUMPY":
        raise fail("a single NumPy array (.npy), not a checkpoint (.npz archive)")
    if not zipfile.is_zipfile(path):
        raise fail("not a complete zip archive, as a checkpoint (.npz) is "
                   "(truncated or corrupt file?)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {}
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise fail(f"entry {info.filename!r} is not a NumPy array (.npy)")
                key = info.filename.removesuffix(".npy")
                with archive.open(info) as f:
                    entries[key] = _read_array(f, key, fail)
            return entries
    except CheckpointError:
        raise
    except MemoryError:
        raise fail("an entry is too large to load") from None
    except Exception as err:  # a damaged zip fails in many ways; all mean the same here
        reason = (str(err).splitlines() or [""])[0]
        raise fail(f"cannot read it (truncated or corrupt file?): {type(err).__name__}: "
                   f"{reason}") from None


def _read_array(f: IO[bytes], key: str, fail) -> np.ndarray:
    """One ``.npy`` entry: its header is read and checked before any of its data."""
    version = np.lib.format.read_magic(f)
    if version not in _NPY_HEADERS:
        raise fail(f"entry {key!r} is in .npy format {version}, expected 1.0 or 2.0")
    shape, fortran_order, dtype = _NPY_HEADERS[version](f)
    if dtype.hasobject:
        raise fail(f"entry {key!r} holds Python objects (pickled data); a checkpoint holds "
                   "plain arrays only, and this one is refused unread")
    size = math.prod(shape) * dtype.itemsize
    data = f.read(size)
    if len(data) != size:
        raise fail(f"entry {key!r} holds {len(data)} bytes, its header says {size}")
    array = np.frombuffer(bytearray(data), dtype)  # a bytearray: the array is writable
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_meta(entries: Mapping[str, np.ndarray], fail) -> dict[str, Any]:
    """The ``meta`` entry as a dict, after checking each field's type."""
    if "meta" not in entries:
        raise fail("checkpoint has no entry 'meta' (not a scratchnet checkpoint?)")
    raw = entries["meta"]
    if raw.dtype.kind != "U" or raw.shape != ():
        raise fail(f"entry 'meta' must be one unicode string, got {raw.dtype} {raw.shape}")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise fail(f"checkpoint 'meta' is not valid JSON: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise fail(f"not a scratchnet checkpoint (no format {FORMAT!r})")
    if meta.get("version") not in READABLE_VERSIONS:
        raise fail(f"checkpoint version {meta.get('version')!r}, this code reads versions "
                   f"{' and '.join(map(str, READABLE_VERSIONS))}")

    def field(name: str, ok: bool, expected: str) -> None:
        if not ok:
            raise fail(f"checkpoint meta {name!r} must be {expected}, got "
                       f"{json.dumps(meta.get(name))[:80]}")

    def is_str_list(v: Any) -> bool:
        return isinstance(v, list) and all(isinstance(s, str) for s in v) and len(set(v)) == len(v)

    network = meta.get("network")
    field("config", isinstance(meta.get("config"), dict), "an object of TrainConfig fields")
    field("network", isinstance(network, dict) and network.get("dtype") in DTYPES
          and isinstance(network.get("layers"), dict)
          and isinstance(network.get("params"), dict) and all(
              isinstance(s, list) and all(isinstance(n, int) and n >= 0 for n in s)
              for s in network["params"].values()),
          f"an object with dtype ({' or '.join(DTYPES)}), layers and params (shapes)")
    if meta["version"] == 2 and isinstance(network, dict):
        network.setdefault("buffers", {})    # written before layers had buffers
    field("network", isinstance(network, dict) and isinstance(network.get("buffers"), dict)
          and all(isinstance(b, dict) and b.get("dtype") in (*DTYPES, "int64")
                  and isinstance(b.get("shape"), list)
                  and all(isinstance(n, int) and n >= 0 for n in b["shape"])
                  for b in network["buffers"].values()),
          'an object whose buffers are {"dtype": float32, float64 or int64, "shape": [...]}')
    field("data", isinstance(meta.get("data"), dict) and all(
        isinstance(d, dict) for d in meta["data"].values()), "an object of fingerprints")
    field("optimizer_keys", is_str_list(meta.get("optimizer_keys")), "a list of names")
    field("history_columns", is_str_list(meta.get("history_columns")), "a list of names")
    return meta


__all__ = ["Checkpoint", "CheckpointError", "describe_data", "describe_network",
           "load_checkpoint", "save_checkpoint"]
