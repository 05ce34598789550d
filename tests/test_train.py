"""The training loop: batches, learning, per-layer gradient norms, clipping, and errors."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from scratchnet import SoftmaxCrossEntropy, seed_network
from scratchnet import train as train_mod
from scratchnet.checkpoint import load_checkpoint
from scratchnet.optim import SGD, global_grad_norm
from scratchnet.train import (
    OPTIMIZERS,
    OPTIONS,
    Bounds,
    DivergenceError,
    OutputError,
    TrainConfig,
    all_grads,
    epoch_batches,
    evaluate,
    layer_grad_norms,
    make_optimizer,
    train,
    train_epoch,
)
from tests.synthetic_data import block_images

LAYERS = ("conv1", "conv2", "fc1", "fc2")  # the full seed network's layers with weights
COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
           *(f"grad_norm.{layer}" for layer in LAYERS)]


# ----------------------------------------------------------------------------- batches


@pytest.mark.parametrize(("n", "batch_size"), [(1, 1), (7, 3), (64, 64), (200, 16), (5, 300)])
def test_epoch_batches_cover_every_index_once(n: int, batch_size: int) -> None:
    batches = epoch_batches(n, batch_size, seed=0, epoch=1)
    assert len(batches) == math.ceil(n / batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))


def test_epoch_batches_depend_only_on_seed_and_epoch() -> None:
    def order(seed: int, epoch: int) -> np.ndarray:
        return np.concatenate(epoch_batches(100, 10, seed, epoch))

    first = order(0, 1)
    order(3, 7)  # no state is carried from call to call
    assert np.array_equal(order(0, 1), first)
    assert not np.array_equal(order(0, 2), first)  # a new shuffle every epoch
    assert not np.array_equal(order(1, 1), first)  # and for every seed
    assert not np.array_equal(first, np.arange(100))  # and it is shuffled at all


# ----------------------------------------------------------------------------- learning


def test_training_reduces_the_loss_and_records_every_column() -> None:
    x, y = block_images(200, seed=0)
    test_x, test_y = block_images(100, seed=1)
    net = seed_network("full", seed=0)
    config = TrainConfig(epochs=4, batch_size=20, lr=0.05, momentum=0.9, seed=0)
    history = train(net, x, y, test_x, test_y, config, progress=False)

    assert list(history.columns) == COLUMNS
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    # An untrained 10-class net has a loss near ln(10) = 2.30; this problem is easy, so
    # 4 epochs must bring it far down. Measured (deterministic): train loss 2.31, 2.20,
    # 0.82, 0.44; test loss 2.28 -> 0.22; test accuracy 0.1 -> 0.9. The bounds leave
    # margin for BLAS rounding differences between machines, none for not learning.
    assert history["train_loss"].iloc[0] > 2.0
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] / 4
    assert history["test_loss"].iloc[-1] < 0.5
    assert history["test_acc"].iloc[-1] >= 0.8
    assert (history["seconds"] > 0).all()
    # The history's test metrics are what evaluate() reports for the final weights.
    assert evaluate(net, test_x, test_y) == (history["test_loss"].iloc[-1],
                                             history["test_acc"].iloc[-1])
    norms = history[[f"grad_norm.{layer}" for layer in LAYERS]].to_numpy()
    assert np.isfinite(norms).all() and (norms > 0).all()


def test_train_epoch_metrics_match_a_hand_written_loop() -> None:
    """The epoch's metrics are exactly (bitwise) what their definitions say.

    The hand-written loop does the same operations in the same order, so equality is
    exact: any difference would mean a metric is defined or accumulated differently.
    """
    x, y = block_images(50, seed=2)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.05, momentum=0.9, seed=4)
    net = seed_network("full", seed=1)
    metrics = train_epoch(net, make_optimizer(net, config), SoftmaxCrossEntropy(), x, y,
                          config, epoch=3, progress=False)

    ref = seed_network("full", seed=1)
    opt, loss_fn = SGD(ref, lr=0.05, momentum=0.9), SoftmaxCrossEntropy()
    losses, correct, norms = 0.0, 0, {layer: [] for layer in LAYERS}
    for idx in epoch_batches(50, 16, seed=4, epoch=3):  # batches of 16, 16, 16, 2
        logits = ref.forward(x[idx])
        losses += loss_fn.forward(logits, y[idx]) * len(idx)
        correct += int((logits.argmax(axis=1) == y[idx]).sum())
        ref.backward(loss_fn.backward())
        grads = ref.named_grads()
        for layer in LAYERS:
            norms[layer].append(math.sqrt(sum(float(np.sum(grads[k] ** 2))
                                              for k in grads if k.startswith(layer + "."))))
        opt.step()

    assert metrics["train_loss"] == losses / 50
    assert metrics["train_acc"] == correct / 50
    for layer in LAYERS:
        assert metrics[f"grad_norm.{layer}"] == max(norms[layer]), layer
    for key, value in ref.named_params().items():
        assert np.array_equal(net.named_params()[key], value), key


def test_grad_norms_are_per_layer() -> None:
    x, y = block_images(60, seed=3)
    net = seed_network("full", seed=0)
    calm = train(net, x, y, x, y, TrainConfig(epochs=1, batch_size=20, lr=0.01),
                 progress=False)
    # Measured: fc2's largest norm is 0.25 at lr 0.01.
    assert 0 < calm["grad_norm.fc2"].iloc[0] < 10
    assert list(layer_grad_norms(net)) == list(LAYERS)


def test_same_seed_gives_bit_identical_runs(tmp_path) -> None:
    """Two runs from the same seeds give the same numbers to the bit (only the times differ):
    no state outside the seeds (a global generator, a cache, the order of a dict or set)
    may leak into training. The checkpoints' weights and optimizer states agree too."""
    x, y = block_images(60, seed=0)
    config = TrainConfig(epochs=2, batch_size=16, optimizer="adam", lr=0.01, seed=5)
    runs = []
    for name in ("a", "b"):
        net = seed_network("full", bias="tied", seed=7)
        history = train(net, x, y, x, y, config, checkpoint=tmp_path / f"{name}.npz",
                        progress=False)
        runs.append((history.drop(columns="seconds"), net.flat_params.copy(),
                     load_checkpoint(tmp_path / f"{name}.npz")))
    (history_a, params_a, saved_a), (history_b, params_b, saved_b) = runs
    pd.testing.assert_frame_equal(history_a, history_b, check_exact=True)
    assert np.array_equal(params_a, params_b)
    for key, value in saved_a.optimizer_state.items():
        assert np.array_equal(saved_b.optimizer_state[key], value), key
    assert saved_a.data == saved_b.data


# ----------------------------------------------------------------------------- divergence


def test_an_exploding_run_stops_with_one_line_naming_epoch_and_step(tmp_path) -> None:
    """At lr 50 the loss explodes within the first epoch (measured: 2.5e5 at its third and
    last step): the run must stop there, not go on to NaN weights, and save nothing."""
    x, y = block_images(60, seed=3)
    path, history = tmp_path / "run.npz", tmp_path / "history.csv"
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as err:
        train(seed_network("full", seed=0), x, y, x, y,
              TrainConfig(epochs=5, batch_size=20, lr=50.0), checkpoint=path,
              history=history, progress=False)
    assert re.fullmatch(r"diverged at epoch 1, step [23] of 3: loss \S+ is past the bound "
                        r"max_loss=1000; no epoch completed, nothing was saved",
                        str(err.value)), str(err.value)
    assert not path.exists() and not history.exists()


@pytest.mark.parametrize(("bounds", "reason"), [
    (Bounds(max_loss=0.5), r"loss \d\.\d+ is past the bound max_loss=0\.5$"),
    (Bounds(max_grad_norm=1e-3), r"gradient norm \d\.\d+ is past the bound "
                                 r"max_grad_norm=0\.001$"),
])
def test_a_bound_stops_the_run_and_keeps_the_last_good_epoch(
    tmp_path, bounds: Bounds, reason: str
) -> None:
    """Epoch 1 runs free; the resumed run is held to a tight bound, so it diverges at the
    first step of epoch 2: the checkpoint and history still hold epoch 1, untouched."""
    x, y = block_images(40, seed=0)
    config = TrainConfig(epochs=1, batch_size=10, lr=0.05)
    path, history = tmp_path / "run.npz", tmp_path / "history.csv"
    train(seed_network("full"), x, y, x, y, config, checkpoint=path, history=history,
          progress=False)
    saved, written = path.read_bytes(), history.read_bytes()
    longer = dataclasses.replace(config, epochs=3)
    with pytest.raises(DivergenceError) as err:
        train(seed_network("full"), x, y, x, y, longer, checkpoint=path, resume=True,
              history=history, bounds=bounds, progress=False)
    text = str(err.value)
    assert text.startswith("diverged at epoch 2, step 1 of 4: ")
    assert re.search(reason, text.split("; ")[0]), text
    assert text.endswith(f"checkpoint {path} and history {history} keep epoch 1")
    assert (err.value.epoch, err.value.step) == (2, 1)
    assert path.read_bytes() == saved and history.read_bytes() == written


def test_the_bound_on_the_gradient_norm_reads_the_flat_gradient_while_it_is_in_use() -> None:
    """``all_grads`` gives the one flat array while every layer's gradient is a view into
    it, and the layers' own arrays once one of them was replaced; the norm is the same up
    to the order of the sum (float64, 21,518 squares: a few ulp)."""
    net = seed_network("full", seed=0)
    net.flat_grads[...] = np.random.default_rng(0).standard_normal(net.flat_grads.size)
    per_parameter = global_grad_norm(net.named_grads())
    grads = all_grads(net)
    assert list(grads) == ["all"] and grads["all"] is net.flat_grads
    assert global_grad_norm(grads) == pytest.approx(per_parameter, rel=1e-14, abs=0)
    net["fc2"].grads["weight"] = net["fc2"].grads["weight"] * 2.0   # no longer a view
    replaced = all_grads(net)
    assert list(replaced) == list(net.named_grads())
    assert replaced["fc2.weight"] is net["fc2"].grads["weight"]
    assert global_grad_norm(replaced) > per_parameter


def test_nan_weights_stop_the_run_at_the_first_step() -> None:
    x, y = block_images(20, seed=0)
    net = seed_network("full")
    net.named_params()["fc1.weight"][0, 0] = np.nan
    with pytest.raises(DivergenceError, match=r"^diverged at epoch 1, step 1 of 2: the "
                                              r"network's outputs are NaN or infinite; no "
                                              r"epoch completed, nothing was saved$"):
        train(net, x, y, x, y, TrainConfig(epochs=1, batch_size=10), progress=False)


def test_bounds_reject_bad_values() -> None:
    for bad in (0, -1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match=r"^Bounds\.max_loss: expected a finite number"):
            Bounds(max_loss=bad)


def test_a_test_loss_past_the_bound_stops_the_run(monkeypatch) -> None:
    x, y = block_images(20, seed=0)
    monkeypatch.setattr(train_mod, "evaluate", lambda *args: (1e4, 0.1))
    with pytest.raises(DivergenceError, match=r"^diverged at epoch 1, after its last step: "
                                              r"test loss 1e\+04 is past the bound "
                                              r"max_loss=1000; no epoch completed"):
        train(seed_network("full"), x, y, x, y, TrainConfig(epochs=1, batch_size=10),
              progress=False)


def test_evaluate_of_a_diverged_network_is_nan() -> None:
    x, y = block_images(10, seed=0)
    net = seed_network("full")
    net.named_params()["fc2.bias"][3] = np.inf
    loss, acc = evaluate(net, x, y)
    assert math.isnan(loss) and math.isnan(acc)


# ----------------------------------------------------------------------------- outputs


def test_history_is_written_after_every_epoch(tmp_path, monkeypatch) -> None:
    """A run that fails late (here: interrupted in epoch 3) keeps the history so far."""
    x, y = block_images(20, seed=0)
    history = tmp_path / "history.csv"
    real_epoch = train_mod.train_epoch

    def interrupted_in_epoch_3(*args, **kwargs):
        if args[6] == 3:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_mod, "train_epoch", interrupted_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train(seed_network("full"), x, y, x, y, TrainConfig(epochs=4, batch_size=10),
              history=history, progress=False)
    assert pd.read_csv(history)["epoch"].tolist() == [1, 2]


def test_checkpoint_and_history_need_their_own_files(tmp_path) -> None:
    x, y = block_images(10, seed=0)
    with pytest.raises(OutputError, match=r"^history .*run\.npz: is the checkpoint's path"):
        train(seed_network("full"), x, y, x, y, TrainConfig(epochs=1), progress=False,
              checkpoint=tmp_path / "run.npz", history=tmp_path / "." / "run.npz")


@pytest.mark.parametrize(("where", "problem"), [
    ("missing/run.npz", "no such directory"),
    ("file.txt/run.npz", "is not a directory"),
    (".", "it is a directory"),
    ("/dev/null", "it exists and is not a regular file"),
])
@pytest.mark.parametrize("argument", ["checkpoint", "history"])
def test_outputs_are_checked_before_any_training(
    tmp_path, monkeypatch, argument: str, where: str, problem: str
) -> None:
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.setattr(train_mod, "train_epoch", lambda *a, **k: pytest.fail("trained"))
    x, y = block_images(10, seed=0)
    path = tmp_path / where
    with pytest.raises(OutputError, match=rf"^{argument} .*: .*{problem}") as err:
        train(seed_network("full"), x, y, x, y, TrainConfig(epochs=1), progress=False,
              **{argument: path})
    assert err.value.path == path and ".tmp" not in str(err.value)


def test_clip_norm_limits_the_applied_update() -> None:
    """One SGD step with clipping equals the step computed by hand from the clip formula.

    Tolerance: the hand computation sums the squares in another order than
    ``clip_grad_norm`` does, so the clip factor may differ in its last bits;
    ``rtol=1e-12`` is a few thousand ulps of float64, far below any real difference.
    """
    x, y = block_images(40, seed=5)
    lr, clip = 0.1, 0.01
    config = TrainConfig(epochs=1, batch_size=40, lr=lr, clip_norm=clip)  # one step
    net = seed_network("full", seed=0)
    before = {k: v.copy() for k, v in net.named_params().items()}
    history = train(net, x, y, x, y, config, progress=False)

    ref, loss_fn = seed_network("full", seed=0), SoftmaxCrossEntropy()
    idx = epoch_batches(40, 40, seed=0, epoch=1)[0]
    loss_fn.forward(ref.forward(x[idx]), y[idx])
    ref.backward(loss_fn.backward())
    grads = ref.named_grads()
    total = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
    assert total > 10 * clip, "the test needs a gradient that clipping actually shrinks"

    update_norm = 0.0
    for key, p in net.named_params().items():
        expected = before[key] - lr * grads[key] * (clip / (total + 1e-6))
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=0, err_msg=key)
        update_norm += float(np.sum((before[key] - p) ** 2))
    assert math.sqrt(update_norm) <= lr * clip * (1 + 1e-9)
    # The recorded norms are those before clipping: together they make the full norm.
    recorded = [history[f"grad_norm.{layer}"].iloc[0] for layer in LAYERS]
    assert math.sqrt(sum(n**2 for n in recorded)) == pytest.approx(total, rel=1e-12)


def test_adam_config_trains_with_adam() -> None:
    x, y = block_images(200, seed=0)
    net = seed_network("full", seed=0)
    config = TrainConfig(epochs=2, batch_size=20, optimizer="adam", lr=0.01)
    assert type(make_optimizer(net, config)).__name__ == "Adam"
    history = train(net, x, y, x, y, config, progress=False)
    # Measured: train loss 2.24 -> 0.83; Adam at lr 0.01 learns this in two epochs.
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] / 2


def test_rmsprop_config_trains_with_its_options() -> None:
    x, y = block_images(200, seed=0)
    net = seed_network("full", seed=0)
    config = TrainConfig(epochs=2, batch_size=20, optimizer="rmsprop", lr=1e-3, momentum=0.5,
                         weight_decay=1e-4)
    optimizer = make_optimizer(net, config)
    assert type(optimizer).__name__ == "RMSprop"
    assert (optimizer.lr, optimizer.alpha, optimizer.momentum, optimizer.weight_decay) == (
        1e-3, 0.99, 0.5, 1e-4)
    history = train(net, x, y, x, y, config, progress=False)
    # Measured: train loss 2.19 -> 0.45 (at lr 3e-3, 2.37 -> 1.91: too large a step).
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] / 2


def test_every_optimizer_is_made_with_the_configs_options() -> None:
    """Each registered kind gets lr, weight decay and the options it names."""
    net = seed_network("shallow", seed=0)
    values = {"momentum": 0.3}
    for name, kind in OPTIMIZERS.items():
        config = TrainConfig(optimizer=name, lr=0.02, weight_decay=0.01,
                             **{option: values[option] for option in kind.options})
        optimizer = make_optimizer(net, config)
        assert (optimizer.lr, optimizer.weight_decay) == (0.02, 0.01), name
        for option in kind.options:
            assert getattr(optimizer, option) == values[option], (name, option)
        assert set(kind.options) <= set(OPTIONS), name


def test_evaluate_does_not_depend_on_its_batch_size() -> None:
    """Loss and accuracy are over examples, whatever the batches (50 = 7*7 + 1).

    Tolerance: the loss is the same per-example sum grouped differently, so it may differ
    in the last bits: ``rel=1e-12``. The accuracy counts the same predictions: exact.
    """
    x, y = block_images(50, seed=6)
    net = seed_network("full", seed=2)
    loss, acc = evaluate(net, x, y, batch_size=7)
    logits = net.forward(x)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_probs[np.arange(50), y].mean(), rel=1e-12)
    assert acc == float((net.predict(x) == y).mean())
    with pytest.raises(ValueError, match=r"^evaluate: 50 images but 49 labels$"):
        evaluate(net, x, y[:49])


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("field", "value", "extra"),
    [
        ("epochs", 0, {}),
        ("epochs", 2.5, {}),
        ("epochs", True, {}),
        ("batch_size", 0, {}),
        ("optimizer", "adagrad", {}),
        ("lr", 0.0, {}),
        ("lr", -0.1, {}),
        ("lr", float("nan"), {}),
        ("momentum", 1.0, {}),
        ("momentum", -0.5, {}),
        ("momentum", 0.9, {"optimizer": "adam"}),

        ("weight_decay", -1e-4, {}),
        ("weight_decay", float("inf"), {}),
        ("clip_norm", 0.0, {}),
        ("clip_norm", float("inf"), {}),
        ("seed", -1, {}),
        ("seed", "0", {}),
    ],
)
def test_train_config_rejects_bad_values(field: str, value: object, extra: dict) -> None:
    with pytest.raises(ValueError, match=rf"^TrainConfig\.{field}: expected .+, got ") as err:
        TrainConfig(**{field: value, **extra})
    assert "\n" not in str(err.value)
    assert repr(value) in str(err.value)


def test_train_config_accepts_good_values_and_is_frozen() -> None:
    config = TrainConfig(epochs=1, batch_size=1, optimizer="adam", lr=1e-3,
                         weight_decay=0.0, clip_norm=1.0, seed=np.int64(3))
    assert config.to_dict()["seed"] == 3 and type(config.to_dict()["seed"]) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.1  # type: ignore[misc]


def _bad_inputs() -> list[tuple[str, dict, str]]:
    x, y = block_images(12, seed=0)
    return [
        ("length mismatch", {"train_y": y[:11]}, r"^train: 12 images but 11 labels$"),
        ("float32 images", {"train_x": x.astype(np.float32)},
         r"^train: images are float32 but the network is float64"),
        ("uint8 images", {"test_x": (x * 255).astype(np.uint8)},
         r"^test: images are uint8 but the network is float64"),
        ("label too large", {"train_y": np.where(y == 0, 10, y)},
         r"^train: labels must be in \[0, 9\].*from 1 to 10$"),
        ("negative label", {"test_y": y - 1}, r"^test: labels must be in \[0, 9\]"),
        ("float labels", {"train_y": y.astype(np.float64)},
         r"^train: expected labels as a 1-D integer array"),
        ("3-D images", {"train_x": x[:, 0]},
         r"^train: conv1 \(Conv2D\): expected input \(N, 1, H, W\), got an array of shape"),
        ("1-D inputs", {"train_x": x[:, 0, 0, 0]},
         r"^train: expected examples as an \(N, \.\.\.\) array"),
        ("empty", {"train_x": x[:0], "train_y": y[:0]}, r"^train: expected at least one"),
        ("wrong image size", {"train_x": np.zeros((12, 1, 32, 32))},
         r"^train: conv1 \(Conv2D\): expected input of shape \(N, 1, 28, 28\)"),
    ]


@pytest.mark.parametrize(("what", "change", "pattern"), _bad_inputs(),
                         ids=[case[0] for case in _bad_inputs()])
def test_bad_inputs_give_one_clear_line_before_any_training(
    what: str, change: dict, pattern: str
) -> None:
    x, y = block_images(12, seed=0)
    args = {"train_x": x, "train_y": y, "test_x": x, "test_y": y, **change}
    net = seed_network("full", seed=0)
    before = {k: v.copy() for k, v in net.named_params().items()}
    with pytest.raises(ValueError, match=pattern) as err:
        train(net, config=TrainConfig(epochs=1, batch_size=4), progress=False, **args)
    assert "\n" not in str(err.value)
    for key, value in net.named_params().items():
        assert np.array_equal(value, before[key]), f"{what}: {key} changed"


def test_resume_needs_a_checkpoint_path() -> None:
    x, y = block_images(10, seed=0)
    with pytest.raises(ValueError, match="resume=True needs checkpoint="):
        train(seed_network("full"), x, y, x, y, TrainConfig(epochs=1), resume=True,
              progress=False)
