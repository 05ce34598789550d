"""Checkpoints: exact round trip, no pickle, atomic writes, clear errors, exact resume."""

from __future__ import annotations

import json
import os
import pickle
import re
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
from scratchnet.train import (
    OutputError,
    ResumeMismatchError,
    TrainConfig,
    make_optimizer,
    train,
    train_epoch,
)
from tests.synthetic_data import block_images
from tests.test_network import bn_dropout_network

ADAM = TrainConfig(epochs=4, batch_size=20, optimizer="adam", lr=0.01, seed=3)
SGD_MOMENTUM = TrainConfig(epochs=4, batch_size=20, lr=0.05, momentum=0.9,
                           weight_decay=1e-4, clip_norm=1.0, seed=3)
RMSPROP = TrainConfig(epochs=4, batch_size=20, optimizer="rmsprop", lr=1e-3, momentum=0.5,
                      weight_decay=1e-4, seed=3)


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
@pytest.mark.parametrize("config", [ADAM, SGD_MOMENTUM, RMSPROP],
                         ids=["adam", "sgd", "rmsprop"])
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



class Planted:
    """Unpickling this runs ``Path.touch`` on its path: proof that code was executed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_loading_never_unpickles_or_runs_code(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, planted = saved, tmp_path / "code-ran"
    with np.load(good, allow_pickle=False) as data:
        entries = {key: data[key] for key in data.files}
    entries["param.fc2.bias"] = np.array([Planted(planted)], dtype=object)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **entries)  # np.savez pickles object arrays

    def no_pickle(*args, **kwargs):
        raise AssertionError("load_checkpoint unpickled something")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    load_checkpoint(good)  # a good checkpoint needs no pickle
    with pytest.raises(CheckpointError, match=r"evil\.npz: entry 'param\.fc2\.bias' holds "
                                              r"Python objects \(pickled data\)") as err:
        load_checkpoint(evil)
    assert not planted.exists()
    assert "allow_pickle" not in str(err.value)  # no advice to unpickle it


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
    with pytest.raises(OSError, match="No space left") as err:
        save_checkpoint(path, net, optimizer, history, ADAM, epoch=2)
    assert err.value.filename == str(path)  # the user's file, not the temporary one

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


def rewritten(saved: Path, change) -> Path:
    """A copy of the checkpoint ``saved`` whose entries ``change(entries, meta)`` altered."""
    with np.load(saved, allow_pickle=False) as data:
        entries = {key: data[key] for key in data.files}
    original = entries["meta"]
    meta = json.loads(str(original))
    change(entries, meta)
    if entries.get("meta") is original:  # not replaced or dropped by the change
        entries["meta"] = np.array(json.dumps(meta))
    path = saved.with_name("changed.npz")
    np.savez(path, **entries)
    return path


def set_meta(key: str, value):
    def change(entries, meta):
        meta[key] = value
    return change


def set_entry(key: str, value):
    def change(entries, meta):
        entries[key] = value
    return change


def drop(key: str):
    def change(entries, meta):
        del entries[key]
    return change


def write_file(content: bytes):
    def make(saved: Path) -> Path:
        path = saved.with_name("other.npz")
        path.write_bytes(content)
        return path
    return make


def single_array(saved: Path) -> Path:
    path = saved.with_name("single.npy")
    np.save(path, np.zeros(3))
    return path


def zip_of(**members: bytes):
    def make(saved: Path) -> Path:
        path = saved.with_name("other.npz")
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
        return path
    return make


def other_arrays(saved: Path) -> Path:
    path = saved.with_name("other.npz")
    np.savez(path, x=np.zeros(3))
    return path


def with_extra_member(saved: Path) -> Path:
    path = saved.with_name("changed.npz")
    path.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "hello")
    return path


def changed(change):
    return lambda saved: rewritten(saved, change)


def epoch_2_history(entries, meta):
    entries["history.epoch"] = np.array([2])


HOSTILE = [  # (what, makes the file from a good checkpoint, what the one line says)
    ("empty file", write_file(b""), "not a complete zip archive"),
    ("text", write_file(b"hello world\n"), "not a complete zip archive"),
    ("random bytes", write_file(bytes(np.random.default_rng(0).integers(0, 256, 5000,
                                                                        np.uint8))),
     "not a complete zip archive"),
    ("a pickle", write_file(pickle.dumps({"a": 1})), "not a complete zip archive"),
    ("a .npy array", single_array, r"a single NumPy array \(\.npy\), not a checkpoint"),
    ("a zip of text", zip_of(**{"hello.txt": b"hi"}), r"entry 'hello\.txt' is not a NumPy"),
    ("a zip of other arrays", other_arrays, "checkpoint has no entry 'meta'"),
    ("an extra member", with_extra_member, r"entry 'notes\.txt' is not a NumPy array"),
    ("npy header only", zip_of(**{"meta.npy": b"\x93NUMPY\x01\x00"}),
     "cannot read it .truncated or corrupt"),
    ("no meta", changed(drop("meta")), "checkpoint has no entry 'meta'"),
    ("meta not JSON", changed(set_entry("meta", np.array("{nope"))), "is not valid JSON"),
    ("meta as bytes", changed(set_entry("meta", np.array(b"{}"))),
     "entry 'meta' must be one unicode string"),
    ("meta 1-d", changed(set_entry("meta", np.array(["{}"]))),
     "entry 'meta' must be one unicode string"),
    ("meta a number", changed(set_entry("meta", np.array(3.0))), "must be one unicode string"),
    ("other format", changed(set_meta("format", "other")), "not a scratchnet checkpoint"),
    ("other version", changed(set_meta("version", 99)), "checkpoint version 99, this code"),
    ("no network", changed(set_meta("network", None)), "meta 'network' must be an object"),
    ("network a number", changed(set_meta("network", 5)), "meta 'network' must be"),
    ("float16 network", changed(lambda e, m: m["network"].update(dtype="float16")),
     "meta 'network' must be"),
    ("shape not ints", changed(lambda e, m: m["network"]["params"].update(
        {"fc2.bias": ["ten"]})), "meta 'network' must be"),
    ("config a list", changed(set_meta("config", [1])), "meta 'config' must be an object"),
    ("no data", changed(set_meta("data", "x")), "meta 'data' must be"),
    ("optimizer keys None", changed(set_meta("optimizer_keys", None)),
     "meta 'optimizer_keys' must be a list of names"),
    ("history columns str", changed(set_meta("history_columns", "abc")),
     "meta 'history_columns' must be a list"),
    ("missing param", changed(drop("param.fc1.weight")),
     r"checkpoint has no entry 'param\.fc1\.weight'"),
    ("unlisted entry", changed(set_entry("param.extra", np.zeros(3))),
     r"unexpected entries \['param\.extra'\]"),
    ("epoch 1-d", changed(set_entry("epoch", np.array([1, 2]))),
     r"must be one integer >= 0, got \[1, 2\]$"),
    ("epoch float", changed(set_entry("epoch", np.array(1.5))),
     "entry 'epoch' has dtype float64, expected integer values"),
    ("epoch text", changed(set_entry("epoch", np.array("one"))), "entry 'epoch' has dtype"),
    ("epoch negative", changed(set_entry("epoch", np.array(-1))),
     "must be one integer >= 0, got -1$"),
    ("epoch past history", changed(set_entry("epoch", np.array(3))),
     r"has shape \(1,\), expected \(3,\)"),
    ("param wrong shape", changed(set_entry("param.fc1.weight", np.zeros((3, 3)))),
     r"'param\.fc1\.weight' is float64 \(3, 3\), its network says float64 \(128, 128\)"),
    ("param int", changed(set_entry("param.fc2.bias", np.zeros(10, np.int64))),
     r"entry 'param\.fc2\.bias' has dtype int64"),
    ("param float32", changed(set_entry("param.fc2.bias", np.zeros(10, np.float32))),
     r"'param\.fc2\.bias' is float32 \(10,\), its network says float64"),
    ("param text", changed(set_entry("param.fc2.bias", np.array(["a"] * 10))),
     "has dtype <U1, expected floating-point values"),
    ("param NaN", changed(set_entry("param.fc2.bias", np.full(10, np.nan))),
     "holds NaN or infinite values"),
    ("param inf", changed(set_entry("param.fc2.bias", np.full(10, np.inf))),
     "holds NaN or infinite values"),
    ("optimizer NaN", changed(set_entry("optim.exp_avg.fc2.bias", np.full(10, np.nan))),
     "holds NaN or infinite values"),
    ("optimizer text", changed(set_entry("optim.step", np.array("1"))),
     r"'optim\.step' has dtype <U1"),
    ("history text", changed(set_entry("history.train_loss", np.array(["x"]))),
     r"'history\.train_loss' has dtype <U1"),
    ("history too long", changed(set_entry("history.train_loss", np.zeros(5))),
     r"has shape \(5,\), expected \(1,\)"),
    ("history epochs wrong", changed(epoch_2_history), r"history's epochs are not 1\.\.1"),
]


@pytest.mark.parametrize(("what", "make", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_any_file_is_refused_in_one_line(saved: Path, what: str, make, message: str) -> None:
    path = make(saved)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert text.startswith(f"{path}: "), text
    assert re.search(message, text), text
    assert "\n" not in text and "allow_pickle" not in text


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        load_checkpoint(tmp_path / "missing.npz")
    os.mkdir(tmp_path / "dir.npz")
    with pytest.raises(CheckpointError, match=r"dir\.npz: not a file$"):
        load_checkpoint(tmp_path / "dir.npz")


def test_zip_error_is_what_a_truncated_npz_raises(saved: Path) -> None:
    """Guards the premise of the truncation tests: np.load does fail on such a file."""
    saved.write_bytes(saved.read_bytes()[:1000])
    with pytest.raises(zipfile.BadZipFile):
        np.load(saved, allow_pickle=False)


# ----------------------------------------------------------------------------- resume


@pytest.mark.parametrize("config, variant", [
    (SGD_MOMENTUM, "full"), (ADAM, "full"), (RMSPROP, "full"), (SGD_MOMENTUM, "full-bn-dropout")],
    ids=["sgd-momentum", "adam", "rmsprop", "bn-dropout"])
def test_resume_equals_the_uninterrupted_run(tmp_path: Path, config: TrainConfig,
                                             variant: str) -> None:
    """Stop after 2 of 4 epochs, resume into a differently initialized net: bitwise equal.

    Both runs do the same operations on the same numbers in the same order (the batches
    and the dropout masks depend only on seed and epoch; weights, running statistics and
    optimizer state are restored exactly), so every column but ``seconds``, every final
    weight and buffer must be identical, not just close.
    """
    x, y = block_images(100, seed=0)
    test_x, test_y = block_images(40, seed=1)

    net = seed_network(variant, seed=0)
    full = train(net, x, y, test_x, test_y, config, checkpoint=tmp_path / "full.npz",
                 progress=False)

    path = tmp_path / "split.npz"
    first = train(seed_network(variant, seed=0), x, y, test_x, test_y,
                  TrainConfig(**{**config.to_dict(), "epochs": 2}), checkpoint=path,
                  progress=False)
    assert len(first) == 2 and load_checkpoint(path).epoch == 2
    resumed_net = seed_network(variant, seed=99)  # other weights: resume must replace them
    resumed = train(resumed_net, x, y, test_x, test_y, config, checkpoint=path, resume=True,
                    progress=False)

    assert list(resumed.columns) == list(full.columns)
    assert resumed["epoch"].tolist() == [1, 2, 3, 4]
    for column in full.columns.drop("seconds"):
        assert resumed[column].dtype == full[column].dtype, column
        assert np.array_equal(resumed[column].to_numpy(), full[column].to_numpy()), column
    for key, value in net.named_params().items():
        assert np.array_equal(resumed_net.named_params()[key], value), key
    for key, value in net.named_buffers().items():
        assert np.array_equal(resumed_net.named_buffers()[key], value), key
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
    path, csv = tmp_path / "done.npz", tmp_path / "history.csv"
    done = train(seed_network("full"), x, y, x, y, config, checkpoint=path, progress=False)
    again = train(seed_network("full", seed=5), x, y, x, y, config, checkpoint=path,
                  resume=True, history=csv, progress=False)
    pd.testing.assert_frame_equal(again, done, check_exact=True)
    assert pd.read_csv(csv)["epoch"].tolist() == [1, 2]


def first_run(tmp_path: Path) -> tuple[Path, TrainConfig, np.ndarray, np.ndarray]:
    """Two epochs of a small run with a checkpoint: its path, config and data."""
    config = TrainConfig(epochs=2, batch_size=10, lr=0.01)
    path = tmp_path / "run.npz"
    x, y = block_images(20, seed=0)
    train(seed_network("full"), x, y, x, y, config, checkpoint=path, progress=False)
    return path, config, x, y


def one_pixel_changed(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[3, 0, 10, 10] += 0.5
    return x


MISMATCHES = [  # (what changes, config fields, dtype, train/test data changes, message)
    ("lr", {"lr": 0.02}, np.float64, {}, r"in lr \(checkpoint 0\.01, this run 0\.02\) "),
    ("seed", {"seed": 1}, np.float64, {}, r"in seed \(checkpoint 0, this run 1\) "),
    ("optimizer", {"optimizer": "adam"}, np.float64, {},
     r"optimizer \(checkpoint 'sgd', this run 'adam'\)"),
    ("momentum", {"momentum": 0.5}, np.float64, {}, r"momentum \(checkpoint 0\.0, this run 0\.5"),
    ("rmsprop", {"optimizer": "rmsprop", "momentum": 0.5}, np.float64, {},
     r"optimizer \(checkpoint 'sgd', this run 'rmsprop'\); momentum \(checkpoint 0\.0, this "
     r"run 0\.5\) "),
    ("weight decay", {"weight_decay": 1e-3}, np.float64, {}, r"weight_decay \(checkpoint 0\.0"),
    ("clip norm", {"clip_norm": 1.0}, np.float64, {},
     r"clip_norm \(checkpoint None, this run 1\.0\)"),
    ("batch size", {"batch_size": 5}, np.float64, {}, r"batch_size \(checkpoint 10, this run 5"),
    ("dtype", {}, np.float32, {}, r"in dtype \(checkpoint float64, this run float32\) \("),
    ("fewer images", {}, np.float64, {"train": lambda x, y: (x[:19], y[:19])},
     r"in train data \(checkpoint 20 images, sha256 \w{12}; this run 19 images, sha256 \w{12}"),
    ("one pixel", {}, np.float64, {"train": lambda x, y: (one_pixel_changed(x), y)},
     r"in train data \(checkpoint 20 images, sha256 \w{12}; this run 20 images, sha256"),
    ("one label", {}, np.float64, {"train": lambda x, y: (x, np.roll(y, 1))},
     r"in train data \(checkpoint 20 images"),
    ("test set", {}, np.float64, {"test": lambda x, y: (x[:5], y[:5])},
     r"in test data \(checkpoint 20 images"),
    ("two at once", {"lr": 0.02, "seed": 1}, np.float64, {},
     r"in lr \(checkpoint 0\.01, this run 0\.02\); seed \(checkpoint 0, this run 1\) "),
]


def resumed_run(path: Path, config: TrainConfig, x, y, change: dict, dtype, data: dict,
                **kwargs) -> pd.DataFrame:
    train_x, train_y = data.get("train", lambda a, b: (a, b))(x, y)
    test_x, test_y = data.get("test", lambda a, b: (a, b))(x, y)
    other = TrainConfig(**{**config.to_dict(), "epochs": 3, **change})
    return train(seed_network("full", dtype=dtype), train_x.astype(dtype), train_y,
                 test_x.astype(dtype), test_y, other, checkpoint=path, resume=True,
                 progress=False, **kwargs)


@pytest.mark.parametrize(("what", "change", "dtype", "data", "pattern"), MISMATCHES,
                         ids=[m[0] for m in MISMATCHES])
def test_resume_with_a_mismatch_gives_one_clear_line(
    tmp_path: Path, what: str, change: dict, dtype: type, data: dict, pattern: str
) -> None:
    path, config, x, y = first_run(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ResumeMismatchError) as err:
        resumed_run(path, config, x, y, change, dtype, data)
    text = str(err.value)
    assert re.search(pattern, text), text
    assert text.startswith(f"resume from {path}: this run differs from the checkpoint in ")
    assert text.endswith("(force_resume=True continues anyway)") and "\n" not in text
    assert path.read_bytes() == before  # refused before anything was written


@pytest.mark.parametrize(("what", "change", "dtype", "data", "pattern"), MISMATCHES,
                         ids=[m[0] for m in MISMATCHES])
def test_force_resume_continues_anyway(
    tmp_path: Path, what: str, change: dict, dtype: type, data: dict, pattern: str
) -> None:
    """Forced, the run keeps the checkpoint's epochs and trains the rest with its own
    settings; the new checkpoint records them, so resuming it again needs no force."""
    path, config, x, y = first_run(tmp_path)
    saved = load_checkpoint(path)
    history = resumed_run(path, config, x, y, change, dtype, data, force_resume=True)
    assert history["epoch"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(history.iloc[:2], saved.history, check_exact=True)
    again = resumed_run(path, config, x, y, change, dtype, data)  # at its last epoch
    assert again["epoch"].tolist() == [1, 2, 3]
    assert load_checkpoint(path).network["dtype"] == np.dtype(dtype).name


def test_resume_past_the_last_epoch_or_into_another_network_is_refused(
    tmp_path: Path
) -> None:
    path, config, x, y = first_run(tmp_path)
    fewer = TrainConfig(**{**config.to_dict(), "epochs": 1})
    with pytest.raises(CheckpointError, match=r"run\.npz: checkpoint is at epoch 2, past "
                                              r"this run's epochs=1$"):
        train(seed_network("full"), x, y, x, y, fewer, checkpoint=path, resume=True,
              progress=False)
    for force in (False, True):  # no flag makes another network's weights fit
        with pytest.raises(CheckpointError, match=r"run\.npz: checkpoint was made for a "
                                                  r"different network: its conv2\.weight is "
                                                  r"8x4x5x5, this network's missing$"):
            train(seed_network("shallow"), x, y, x, y, config, checkpoint=path, resume=True,
                  force_resume=force, progress=False)


def test_an_existing_checkpoint_is_never_started_over(tmp_path: Path) -> None:
    path, config, x, y = first_run(tmp_path)
    before = path.read_bytes()
    with pytest.raises(OutputError, match=r"^checkpoint .*run\.npz: already exists; resume "
                                          r"it, or remove it to start afresh$"):
        train(seed_network("full"), x, y, x, y, config, checkpoint=path, progress=False)
    assert path.read_bytes() == before


# ----------------------------------------------------------------------------- buffers


def bn_state(tmp_path: Path):
    """A checkpoint of a network with a batch norm whose running statistics have moved."""
    net = bn_dropout_network()
    config = TrainConfig(epochs=2, batch_size=4, seed=0)
    optimizer = make_optimizer(net, config)
    for seed in range(2):
        net.forward(np.random.default_rng(seed).standard_normal((4, 1, 8, 8)))
    path = tmp_path / "bn.npz"
    save_checkpoint(path, net, optimizer, pd.DataFrame({"epoch": [1]}), config, epoch=1)
    return net, path


def test_buffers_round_trip_exactly(tmp_path: Path) -> None:
    net, path = bn_state(tmp_path)
    loaded = load_checkpoint(path)
    assert loaded.buffers.keys() == net.named_buffers().keys()
    for key, value in net.named_buffers().items():
        assert loaded.buffers[key].dtype == value.dtype, key
        np.testing.assert_array_equal(loaded.buffers[key], value, err_msg=key)
    assert int(loaded.buffers["bn1.num_batches_tracked"]) == 2
    assert loaded.network["buffers"]["bn1.num_batches_tracked"] == {"dtype": "int64",
                                                                     "shape": []}
    fresh = bn_dropout_network()
    fresh.load_buffers(loaded.buffers)
    np.testing.assert_array_equal(fresh["bn1"].buffers["running_var"],
                                  net["bn1"].buffers["running_var"])


def test_a_version_2_checkpoint_reads_as_one_without_buffers(saved: Path) -> None:
    def as_version_2(entries, meta):
        meta["version"] = 2
        del meta["network"]["buffers"]
    old = rewritten(saved, as_version_2)
    loaded = load_checkpoint(old)
    assert loaded.buffers == {} and loaded.network["buffers"] == {}
    assert loaded.params.keys() == load_checkpoint(saved).params.keys()


@pytest.mark.parametrize("change, message", [
    (drop("buffer.bn1.running_mean"), "checkpoint has no entry 'buffer.bn1.running_mean'"),
    (set_entry("buffer.bn1.running_var", np.zeros(4)),
     r"entry 'buffer.bn1.running_var' is float64 \(4,\), its network says float64 \(3,\)"),
    (set_entry("buffer.bn1.num_batches_tracked", np.array(2.0)),
     r"entry 'buffer.bn1.num_batches_tracked' is float64 \(\), its network says int64 \(\)"),
    (set_entry("buffer.bn1.running_var", np.array([1.0, np.nan, 1.0])),
     "entry 'buffer.bn1.running_var' holds NaN or infinite values"),
])
def test_a_bad_buffer_entry_is_named(tmp_path: Path, change, message: str) -> None:
    _, path = bn_state(tmp_path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(rewritten(path, change))
