"""Checkpoints: exact round trip, no pickle, atomic writes, clear errors, exact resume."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scratchnet import SoftmaxCrossEntropy, seed_network
from scratchnet.checkpoint import (
    CheckpointError,
    describe_network,
    load_checkpoint,
    save_checkpoint,
)
from scratchnet.train import TrainConfig, make_optimizer, train, train_epoch
from tests.synthetic_data import block_images

ADAM = TrainConfig(epochs=4, batch_size=20, optimizer="adam", lr=0.01, seed=3)
SGD_MOMENTUM = TrainConfig(epochs=4, batch_size=20, lr=0.05, momentum=0.9,
                           weight_decay=1e-4, clip_norm=1.0, seed=3)


def trained_state(config: TrainConfig, dtype: type = np.float64):
    """A network, its optimizer (with non-zero state) and a one-row history."""
    x, y = block_images(40, seed=0, dtype=dtype)
    net = seed_network("full", dtype=dtype, seed=0)
    optimizer = make_optimizer(net, config)
    metrics = train_epoch(net, optimizer, SoftmaxCrossEntropy(), x, y, config, 1, False)
    history = pd.DataFrame([{"epoch": 1, **metrics}])
    return net, optimizer, history


def leftovers(directory: Path, keep: str) -> list[str]:
    """Files in ``directory`` other than ``keep`` (e.g. temporary files left behind)."""
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


# ----------------------------------------------------------------------------- format


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", [ADAM, SGD_MOMENTUM], ids=["adam", "sgd"])
def test_round_trip_is_exact(tmp_path: Path, config: TrainConfig, dtype: type) -> None:
    net, optimizer, history = trained_state(config, dtype)
    path = tmp_path / "run.npz"
    save_checkpoint(path, net, optimizer, history, config, epoch=1)
    loaded = load_checkpoint(path)

    assert loaded.path == path and loaded.epoch == 1
    assert TrainConfig(**loaded.config) == config
    assert loaded.network == describe_network(net)
    assert loaded.params.keys() == net.named_params().keys()
    for key, value in net.named_params().items():
        assert loaded.params[key].dtype == value.dtype, key
        assert np.array_equal(loaded.params[key], value), key
    state = optimizer.state_dict()
    assert loaded.optimizer_state.keys() == state.keys()
    for key, value in state.items():
        assert loaded.optimizer_state[key].dtype == value.dtype, key
        assert np.array_equal(loaded.optimizer_state[key], value), key
    pd.testing.assert_frame_equal(loaded.history, history, check_exact=True)


def test_file_needs_no_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net, optimizer, history = trained_state(ADAM)
    path = tmp_path / "run.npz"
    save_checkpoint(path, net, optimizer, history, ADAM, epoch=1)

    # Every entry reads without pickle, and none is an object array.
    with np.load(path, allow_pickle=False) as data:
        entries = {key: data[key] for key in data.files}
    assert not any(v.dtype.hasobject for v in entries.values())
    assert entries["meta"].dtype.kind == "U" and entries["meta"].shape == ()
    assert {k.split(".", 1)[0] for k in entries} == {"param", "optim", "history", "epoch",
                                                     "meta"}

    # And load_checkpoint itself refuses pickle.
    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    load_checkpoint(path)
    assert calls and all(call.get("allow_pickle") is False for call in calls)


# ----------------------------------------------------------------------------- atomicity


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    net, optimizer, history = trained_state(ADAM)
    for epoch in (1, 2):  # the second write replaces the first
        save_checkpoint(tmp_path / "run.npz", net, optimizer, history, ADAM, epoch=epoch)
        assert leftovers(tmp_path, keep="run.npz") == []


def test_failed_write_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, optimizer, history = trained_state(ADAM)
    path = tmp_path / "run.npz"
    save_checkpoint(path, net, optimizer, history, ADAM, epoch=1)
    good = path.read_bytes()

    def savez_then_fail(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip archive")  # writing has started...
        raise OSError("No space left on device")     # ...and then the disk is full

    monkeypatch.setattr(np, "savez", savez_then_fail)
    net.named_params()["fc2.bias"][...] = 123.0  # a changed state that must not land
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, net, optimizer, history, ADAM, epoch=2)

    assert path.read_bytes() == good
    assert load_checkpoint(path).epoch == 1
    assert leftovers(tmp_path, keep="run.npz") == []


# ----------------------------------------------------------------------------- errors


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    net, optimizer, history = trained_state(ADAM)
    path = tmp_path / "run.npz"
    save_checkpoint(path, net, optimizer, history, ADAM, epoch=1)
    return path


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.0])
def test_truncated_file_gives_a_clear_error(saved: Path, keep: float) -> None:
    content = saved.read_bytes()
    saved.write_bytes(content[: int(len(content) * keep)])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        load_checkpoint(saved)
    assert str(saved) in str(err.value) and "\n" not in str(err.value)


def test_corrupted_bytes_give_a_clear_error(saved: Path) -> None:
    content = bytearray(saved.read_bytes())
    middle = len(content) // 2
    # Flip every bit of 64 bytes inside a stored array: its CRC no longer matches.
    content[middle : middle + 64] = bytes(byte ^ 0xFF for byte in content[middle : middle + 64])
    saved.write_bytes(bytes(content))
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        load_checkpoint(saved)
    assert str(saved) in str(err.value)


def test_missing_entry_is_named(saved: Path, tmp_path: Path) -> None:
    with np.load(saved, allow_pickle=False) as data:
        entries = {key: data[key] for key in data.files if key != "param.fc1.weight"}
    broken = tmp_path / "broken.npz"
    np.savez(broken, **entries)
    with pytest.raises(CheckpointError, match=r"broken\.npz: checkpoint has no entry "
                                              r"'param\.fc1\.weight'"):
        load_checkpoint(broken)


def test_other_files_are_not_checkpoints(tmp_path: Path) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"other\.npz: checkpoint has no entry 'meta'"):
        load_checkpoint(other)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(CheckpointError, match=r"single\.npy: expected an \.npz archive"):
        load_checkpoint(single)
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        load_checkpoint(tmp_path / "missing.npz")


def test_zip_error_is_what_a_truncated_npz_raises(saved: Path) -> None:
    """Guards the premise of the truncation tests: np.load does fail on such a file."""
    saved.write_bytes(saved.read_bytes()[:1000])
    with pytest.raises(zipfile.BadZipFile):
        np.load(saved, allow_pickle=False)


# ----------------------------------------------------------------------------- resume


@pytest.mark.parametrize("config", [SGD_MOMENTUM, ADAM], ids=["sgd-momentum", "adam"])
def test_resume_equals_the_uninterrupted_run(tmp_path: Path, config: TrainConfig) -> None:
    """Stop after 2 of 4 epochs, resume into a differently initialized net: bitwise equal.

    Both runs do the same operations on the same numbers in the same order (the batches
    depend only on seed and epoch; weights and optimizer state are restored exactly), so
    every column but ``seconds`` and every final weight must be identical, not just close.
    """
    x, y = block_images(100, seed=0)
    test_x, test_y = block_images(40, seed=1)

    net = seed_network("full", seed=0)
    full = train(net, x, y, test_x, test_y, config, checkpoint=tmp_path / "full.npz",
                 progress=False)

    path = tmp_path / "split.npz"
    first = train(seed_network("full", seed=0), x, y, test_x, test_y,
                  TrainConfig(**{**config.to_dict(), "epochs": 2}), checkpoint=path,
                  progress=False)
    assert len(first) == 2 and load_checkpoint(path).epoch == 2
    resumed_net = seed_network("full", seed=99)  # other weights: resume must replace them
    resumed = train(resumed_net, x, y, test_x, test_y, config, checkpoint=path, resume=True,
                    progress=False)

    assert list(resumed.columns) == list(full.columns)
    assert resumed["epoch"].tolist() == [1, 2, 3, 4]
    for column in full.columns.drop("seconds"):
        assert resumed[column].dtype == full[column].dtype, column
        assert np.array_equal(resumed[column].to_numpy(), full[column].to_numpy()), column
    for key, value in net.named_params().items():
        assert np.array_equal(resumed_net.named_params()[key], value), key
    # The checkpoints at the end hold the same state too.
    a, b = load_checkpoint(tmp_path / "full.npz"), load_checkpoint(path)
    for key, value in a.optimizer_state.items():
        assert np.array_equal(b.optimizer_state[key], value), key


def test_resume_without_a_checkpoint_file_starts_afresh(tmp_path: Path) -> None:
    x, y = block_images(20, seed=0)
    config = TrainConfig(epochs=1, batch_size=10)
    path = tmp_path / "new.npz"
    history = train(seed_network("full"), x, y, x, y, config, checkpoint=path, resume=True,
                    progress=False)
    assert history["epoch"].tolist() == [1] and load_checkpoint(path).epoch == 1


def test_resume_at_the_last_epoch_returns_the_history(tmp_path: Path) -> None:
    x, y = block_images(20, seed=0)
    config = TrainConfig(epochs=2, batch_size=10)
    path = tmp_path / "done.npz"
    done = train(seed_network("full"), x, y, x, y, config, checkpoint=path, progress=False)
    again = train(seed_network("full", seed=5), x, y, x, y, config, checkpoint=path,
                  resume=True, progress=False)
    pd.testing.assert_frame_equal(again, done, check_exact=True)


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"lr": 0.02}, r"checkpoint was made with lr=0\.01, this run has lr=0\.02$"),
        ({"seed": 1}, r"checkpoint was made with seed=0, this run has seed=1$"),
        ({"optimizer": "adam"}, r"with optimizer='sgd', this run has optimizer='adam'$"),
        ({"clip_norm": 1.0}, r"with clip_norm=None, this run has clip_norm=1\.0$"),
        ({"epochs": 1}, r"checkpoint is at epoch 2, past this run's epochs=1$"),
        ({"network": ("shallow", np.float64)}, r"made for a different network"),
        ({"network": ("full", np.float32)}, r"made for a different network \(float64"),
    ],
)
def test_resume_with_a_mismatch_gives_one_clear_line(
    tmp_path: Path, change: dict, pattern: str
) -> None:
    config = TrainConfig(epochs=2, batch_size=10, lr=0.01)
    path = tmp_path / "run.npz"
    x, y = block_images(20, seed=0)
    train(seed_network("full"), x, y, x, y, config, checkpoint=path, progress=False)

    change = dict(change)  # the parameter is shared between runs: do not mutate it
    variant, dtype = change.pop("network", ("full", np.float64))
    net = seed_network(variant, dtype=dtype)
    x = x.astype(dtype)
    other = TrainConfig(**{**config.to_dict(), **change})
    with pytest.raises(ValueError, match=pattern) as err:
        train(net, x, y, x, y, other, checkpoint=path, resume=True, progress=False)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
