"""Checkpoints: a training run's whole state in one ``.npz`` file, written atomically.

A checkpoint holds everything needed to continue a run exactly where it stopped::

    param.<key>      every network parameter        e.g. param.conv1.weight
    optim.<key>      every optimizer state array    e.g. optim.step, optim.exp_avg.fc1.bias
    history.<col>    every history column           e.g. history.train_loss
    epoch            0-d int64: the last completed epoch
    meta             0-d unicode array: a JSON string with the config, a description of
                     the network, and the lists of keys above (so a missing one is named)

Every entry is a plain numeric or unicode array, so the file is read with
``np.load(path, allow_pickle=False)``: loading a checkpoint never runs pickled code.

Atomic writing (``scratchnet.atomic.write_atomically``): the file is first written in
full to a temporary file in the same directory, flushed to disk (``fsync``), and only then
moved over the old checkpoint with ``os.replace``, which is atomic. A crash while writing
leaves the previous checkpoint intact, never a half-written one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scratchnet.atomic import write_atomically
from scratchnet.network import Sequential

FORMAT = "scratchnet-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, or not a scratchnet checkpoint."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read from a checkpoint file.

    Attributes:
        path: the file it was read from.
        epoch: the last completed epoch.
        params: ``named_params()``-style dict of the network's weights.
        optimizer_state: the optimizer's ``state_dict()``.
        history: one row per completed epoch (as ``train`` returns it).
        config: the ``TrainConfig`` fields, as a dict (``TrainConfig(**config)`` rebuilds it).
        network: :func:`describe_network` of the network that was trained.
    """

    path: Path
    epoch: int
    params: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray]
    history: pd.DataFrame
    config: dict[str, Any]
    network: dict[str, Any]


def describe_network(net: Sequential) -> dict[str, Any]:
    """A JSON-ready description of ``net``: dtype, layers (their repr) and param shapes.

    Two networks with equal descriptions can load each other's weights and train alike.
    """
    return {
        "dtype": str(net.dtype),
        "layers": {name: repr(layer) for name, layer in net.layers.items()},
        "params": {key: list(p.shape) for key, p in net.named_params().items()},
    }


def save_checkpoint(
    path: str | os.PathLike,
    net: Sequential,
    optimizer: Any,
    history: pd.DataFrame,
    config: Any,
    epoch: int,
) -> None:
    """Write the run's state to ``path`` (one ``.npz``, exactly that name), atomically.

    Args:
        path: the checkpoint file; its directory must exist.
        net: the network; its parameters are saved.
        optimizer: anything with ``state_dict() -> dict[str, np.ndarray]``.
        history: the history so far, one row per epoch (numeric columns).
        config: the run's ``TrainConfig`` (anything with ``to_dict()``).
        epoch: the last completed epoch.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    arrays.update({f"param.{k}": v for k, v in net.named_params().items()})
    optim_state = optimizer.state_dict()
    arrays.update({f"optim.{k}": np.asarray(v) for k, v in optim_state.items()})
    arrays.update({f"history.{c}": history[c].to_numpy() for c in history.columns})
    arrays["epoch"] = np.array(epoch, dtype=np.int64)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        "network": describe_network(net),
        "optimizer_keys": list(optim_state),
        "history_columns": [str(c) for c in history.columns],
    }
    arrays["meta"] = np.array(json.dumps(meta))
    for key, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f"save_checkpoint: {key} has dtype object, which would need pickle")

    write_atomically(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated or corrupt, not a scratchnet checkpoint, or
            lacks an entry; the message names the file (and the entry).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path}: expected an .npz archive, got a single array")
        with data:
            arrays = {key: data[key] for key in data.files}  # reads (and CRC-checks) all
    except CheckpointError:
        raise
    except Exception as err:  # a damaged zip fails in many ways; all mean the same here
        raise CheckpointError(
            f"{path}: cannot read checkpoint (truncated or corrupt file?): "
            f"{type(err).__name__}: {err}"
        ) from err

    def entry(key: str) -> np.ndarray:
        if key not in arrays:
            raise CheckpointError(f"{path}: checkpoint has no entry {key!r}")
        return arrays[key]

    try:
        meta = json.loads(str(entry("meta")))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: checkpoint 'meta' is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a scratchnet checkpoint (no format {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {meta.get('version')!r}, "
                              f"this code reads version {VERSION}")

    epoch = int(entry("epoch"))
    network = meta["network"]
    params = {key: entry(f"param.{key}") for key in network["params"]}
    optimizer_state = {key: entry(f"optim.{key}") for key in meta["optimizer_keys"]}
    history = pd.DataFrame({c: entry(f"history.{c}") for c in meta["history_columns"]})
    if len(history) != epoch:
        raise CheckpointError(f"{path}: history has {len(history)} rows for epoch {epoch}")
    return Checkpoint(path=path, epoch=epoch, params=params, optimizer_state=optimizer_state,
                      history=history, config=meta["config"], network=network)


__all__ = ["Checkpoint", "CheckpointError", "describe_network", "load_checkpoint",
           "save_checkpoint"]
