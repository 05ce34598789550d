"""scratchnet and its PyTorch twin, trained in lockstep, stay equal epoch after epoch.

Figures quoted below were measured on real MNIST (the first 3000 training and 1000 test
images), full seed network, batch 16, SGD lr 0.01 momentum 0.9 (375 steps in 2 epochs):

* float64: param_gap 2.5e-16 after epoch 1, 5.0e-16 after epoch 2 (a couple of ulps of
  the weights); loss curves equal to 1e-16; predictions identical. Across other runs
  (seeds 1 and 2, tied bias, clipping, weight decay) the gap stayed <= 5e-16; with Adam
  (lr 1e-3) 8.7e-15, Adam's division by sqrt(v) magnifying rounding where v is tiny.
* float32: param_gap 2.5e-7 after 375 steps (Adam: 5.6e-6); losses within 1e-7;
  predictions still identical on all 1000 test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reference import lockstep
from reference.agreement import assert_agree, tolerance
from reference.lockstep import train_lockstep
from reference.twin import to_torch
from scratchnet import Dense, ReLU, Sequential, seed_network
from scratchnet.data import as_float, load_dataset
from scratchnet.train import OPTIMIZERS, TrainConfig, evaluate_predictions
from tests.synthetic_data import block_images

MNIST_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"

COLUMNS = [
    "epoch",
    *(f"{f}_{m}" for f in ("scratchnet", "torch")
      for m in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds")),
    "param_gap",
    "prediction_agreement",
    "eval_seconds",
    "epoch_seconds",
]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3000 training and 1000 test images (uint8) with labels: real MNIST when present.

    CI always has MNIST at ``../shared/data/mnist``; elsewhere the synthetic block images
    of ``tests/test_train.py`` stand in, so the comparison still runs (the bounds below
    hold for both: they are about rounding, not about the data).
    """
    if MNIST_DIR.is_dir():
        data = load_dataset("mnist", data_dir=MNIST_DIR, download=False)
        return (data.train_images[:3000], data.train_labels[:3000],
                data.test_images[:1000], data.test_labels[:1000])
    x, y = block_images(3000, seed=0)
    test_x, test_y = block_images(1000, seed=1)
    return ((x * 255).astype(np.uint8), y, (test_x * 255).astype(np.uint8), test_y)


def as_dtype(digits, dtype: type, n_train: int, n_test: int):
    x, y, test_x, test_y = digits
    return (as_float(x[:n_train], dtype), y[:n_train], as_float(test_x[:n_test], dtype),
            test_y[:n_test])


def test_float64_lockstep_stays_equal_for_hundreds_of_steps(digits) -> None:
    """375 SGD-momentum steps: the same predictions, weights equal to rounding.

    Bound on param_gap: ``tolerance(float64)`` = 1e-12, the project's agreement rule for
    values of order one (the weights are below 1). Measured: 5.0e-16, so the bound has a
    2000x margin for other BLAS builds; any real difference (a wrong momentum formula, a
    mis-scaled gradient, a different batch) moves the weights by > 1e-6 within a step.
    """
    x, y, test_x, test_y = as_dtype(digits, np.float64, 3000, 1000)
    config = TrainConfig(epochs=2, batch_size=16, lr=0.01, momentum=0.9, seed=0)
    history = train_lockstep(seed_network("full", seed=0), x, y, test_x, test_y, config,
                             progress=False)

    assert list(history.columns) == COLUMNS
    assert history["epoch"].tolist() == [1, 2]
    assert history.attrs["config"] == config.to_dict()
    assert (history["prediction_agreement"] == 1.0).all()
    assert (history["param_gap"] <= tolerance(np.float64)).all(), history["param_gap"]
    # Loss curves: the same losses summed in other orders; the agreement rule again.
    for metric in ("train_loss", "test_loss"):
        assert_agree(history[f"scratchnet_{metric}"].to_numpy(),
                     history[f"torch_{metric}"].to_numpy(), np.float64, metric)
    # Accuracies count identical predictions, so they are exactly equal.
    for metric in ("train_acc", "test_acc"):
        assert history[f"scratchnet_{metric}"].equals(history[f"torch_{metric}"]), metric
    # And it was a real training run, not two untouched copies agreeing trivially.
    # Measured on MNIST: test accuracy 0.762, then 0.875.
    assert history["scratchnet_test_acc"].iloc[-1] > 0.7
    assert (history[["scratchnet_seconds", "torch_seconds"]] > 0).all().all()
    # The epoch's wall time holds both frameworks' steps and the evaluations besides.
    steps = history["scratchnet_seconds"] + history["torch_seconds"]
    assert (history["eval_seconds"] > 0).all()
    assert (history["epoch_seconds"] > steps + history["eval_seconds"]).all()


def test_float64_lockstep_with_adam_clipping_and_weight_decay(digits) -> None:
    """Adam, gradient clipping and weight decay take the same path on both sides.

    63 steps (1 epoch of 1000 images at batch 16). clip_norm 0.5 is active: measured,
    the global gradient norm exceeds it in 44 of the 63 steps (median 0.65, max 2.6).
    Measured param_gap: 7.1e-16 (after 375 plain-Adam steps it reaches 8.7e-15: Adam
    divides by sqrt(v) + eps, which magnifies rounding where v is small). Bound:
    1e-12 = ``tolerance(float64)``, as above.
    """
    x, y, test_x, test_y = as_dtype(digits, np.float64, 1000, 500)
    config = TrainConfig(epochs=1, batch_size=16, optimizer="adam", lr=1e-3,
                         weight_decay=1e-4, clip_norm=0.5, seed=1)
    history = train_lockstep(seed_network("full", seed=1), x, y, test_x, test_y, config,
                             progress=False, pause=0.0)
    assert history["param_gap"].iloc[-1] <= tolerance(np.float64)
    assert history["prediction_agreement"].iloc[-1] == 1.0
    assert_agree(history["scratchnet_train_loss"].to_numpy(),
                 history["torch_train_loss"].to_numpy(), np.float64, "train_loss")


def test_every_optimizer_has_its_torch_twin() -> None:
    assert set(lockstep.TORCH_OPTIMIZERS) == set(OPTIMIZERS)


def test_float64_lockstep_with_rmsprop_and_momentum(digits) -> None:
    """RMSprop with momentum and weight decay takes the same path on both sides (63 steps,
    1 epoch of 1000 images at batch 16). Bound: ``tolerance(float64)`` (1e-12), the
    project's float64 rule: a right optimizer drifts by rounding only (about 1e-15)."""
    x, y, test_x, test_y = as_dtype(digits, np.float64, 1000, 500)
    config = TrainConfig(epochs=1, batch_size=16, optimizer="rmsprop", lr=1e-3, momentum=0.5,
                         weight_decay=1e-4, seed=2)
    history = train_lockstep(seed_network("full", seed=2), x, y, test_x, test_y, config,
                             progress=False, pause=0.0)
    assert history["param_gap"].iloc[-1] <= tolerance(np.float64)
    assert history["prediction_agreement"].iloc[-1] == 1.0


def test_float32_lockstep_runs_and_drifts_only_by_rounding(digits) -> None:
    """float32: 63 steps (1 epoch of 1000 images), same config as the float64 test.

    Measured drift: param_gap 3.0e-8 after 63 steps (2.5e-7 after 375), i.e. an ulp or
    two of the weights; train losses within 1.7e-8; prediction agreement 1.0. Bound:
    ``tolerance(float32)`` (1e-5), the project's float32 rule, 330x above the measured
    gap. Predictions are required to agree on 99% of the test images rather than all:
    in float32 an image whose two top logits are within 1e-6 may go either way.
    """
    x, y, test_x, test_y = as_dtype(digits, np.float32, 1000, 500)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.01, momentum=0.9, seed=0)
    net = seed_network("full", dtype=np.float32, seed=0)
    history = train_lockstep(net, x, y, test_x, test_y, config, progress=False, pause=0.0)
    assert net.dtype == np.float32
    assert np.isfinite(history.drop(columns="epoch").to_numpy()).all()
    assert history["param_gap"].iloc[-1] <= tolerance(np.float32)
    assert history["prediction_agreement"].iloc[-1] >= 0.99
    assert_agree(history["scratchnet_train_loss"].to_numpy(),
                 history["torch_train_loss"].to_numpy(), np.float32, "train_loss")


def test_lockstep_sees_a_difference_when_there_is_one(
    digits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Give the twin a 1% larger learning rate: param_gap must show it, far above 1e-12.

    Guards against a param_gap that compares a network with itself, or a twin that is
    not really trained. Measured: 3.5e-4 after 19 steps.
    """
    make = lockstep.make_torch_optimizer

    def slightly_off(twin: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
        optimizer = make(twin, config)
        optimizer.param_groups[0]["lr"] *= 1.01
        return optimizer

    monkeypatch.setattr(lockstep, "make_torch_optimizer", slightly_off)
    x, y, test_x, test_y = as_dtype(digits, np.float64, 300, 100)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.01, momentum=0.9)
    history = train_lockstep(seed_network("full"), x, y, test_x, test_y, config,
                             progress=False, pause=0.0)
    assert history["param_gap"].iloc[-1] > 1e3 * tolerance(np.float64)


def test_lockstep_trains_vectors_and_the_twin_it_is_given() -> None:
    """A Dense/ReLU network on ``(N, 2)`` points, with a twin the caller keeps.

    The twin given starts from other weights: lockstep first sets them to the net's, then
    trains it, so after training it holds the net's weights to rounding (float64 rule,
    1e-12) and no longer its own. Its parameters are the very tensors it was built with.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)      # XOR of the signs: no line separates it
    net = Sequential(Dense(2, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng))
    twin = to_torch(Sequential(Dense(2, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng)))
    before = {k: v.clone() for k, v in twin.state_dict().items()}
    tensors = [p.data_ptr() for p in twin.parameters()]
    start = {k: v.copy() for k, v in net.named_params().items()}
    config = TrainConfig(epochs=3, batch_size=8, lr=0.1, momentum=0.9)
    history = train_lockstep(net, x, y, x[:20], y[:20], config, progress=False, pause=0.0,
                             twin=twin)

    assert [p.data_ptr() for p in twin.parameters()] == tensors
    assert history["param_gap"].max() <= tolerance(np.float64)
    assert lockstep.param_gap(net, twin) <= tolerance(np.float64)
    for key, value in twin.state_dict().items():
        assert not torch.equal(value, before[key]), key
        assert np.abs(value.numpy() - start[key]).max() > 1e-3, f"{key} was not trained"


# ---- modes, buffers and dropout masks: the seed network with batch norm and dropout ------

def test_float64_lockstep_with_batch_norm_and_dropout(digits) -> None:
    """``seed_network("full-bn-dropout")``: 76 steps (2 epochs of 608 images, batch 16).

    Dropout's masks are drawn by scratchnet and handed to the twin each step, batch norm
    trains on batch statistics and is evaluated on its running ones. Bounds: the
    project's float64 rule (1e-12, scaled by the values' size for the buffers, whose
    running means pass 1): a right implementation drifts by rounding only. Measured on
    MNIST: param_gap 1.0e-15, buffer_gap 2.6e-14 (on running means up to 1.6, each batch's
    mean taken over 1024 convolution outputs, summed in another order by torch).
    """
    x, y, test_x, test_y = as_dtype(digits, np.float64, 608, 200)
    config = TrainConfig(epochs=2, batch_size=16, lr=0.01, momentum=0.9, seed=0)
    net = seed_network("full-bn-dropout", seed=0)
    twin = to_torch(net)
    history = train_lockstep(net, x, y, test_x, test_y, config, progress=False, pause=0.0,
                             twin=twin)

    assert list(history.columns) == [*COLUMNS[:12], "buffer_gap", *COLUMNS[12:]]
    assert (history["prediction_agreement"] == 1.0).all()
    assert (history["param_gap"] <= tolerance(np.float64)).all(), history["param_gap"]
    theirs = twin.state_dict()
    for key, value in net.named_buffers().items():
        assert_agree(value, theirs[key].numpy(), np.float64, key)
    for metric in ("train_acc", "test_acc"):
        assert history[f"scratchnet_{metric}"].equals(history[f"torch_{metric}"]), metric
    assert_agree(history["scratchnet_train_loss"].to_numpy(),
                 history["torch_train_loss"].to_numpy(), np.float64, "train_loss")
    # Training mode for the steps, eval mode for the evaluations: each side's batch norm
    # counted the 76 training batches and nothing else (an evaluation in training mode
    # would count its batches, and move the running statistics).
    for bn in ("bn1", "bn2"):
        assert int(net[bn].buffers["num_batches_tracked"]) == 76
        assert int(theirs[f"{bn}.num_batches_tracked"]) == 76
    assert net.training and twin.training
    # It learned (measured: test accuracy 0.67, then 0.80), and the dropout dropped.
    assert history["scratchnet_test_acc"].iloc[-1] > 0.7
    mask = net["dropout1"].mask
    assert mask.shape == (16, 128) and 0.3 < mask.mean() < 0.7


def test_the_twin_parts_without_the_handed_masks(digits, monkeypatch) -> None:
    """Without the masks handed over step by step, the twin's dropout reuses the last mask
    scratchnet drew in the epoch: the weights part at once, far past 1e-12. (Measured:
    param_gap 0.087 after 20 steps.) So the agreement above is the masks' doing."""
    monkeypatch.setattr(lockstep, "hand_masks", lambda layers, step_masks: None)
    x, y, test_x, test_y = as_dtype(digits, np.float64, 320, 100)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.01, momentum=0.9, seed=0)
    history = train_lockstep(seed_network("full-bn-dropout", seed=0), x, y, test_x, test_y,
                             config, progress=False, pause=0.0)
    assert history["param_gap"].iloc[-1] > 1e3 * tolerance(np.float64)


def test_torch_evaluate_runs_in_eval_mode_and_restores_the_modes(digits) -> None:
    """The twin is evaluated in eval mode (running statistics, no dropout) whatever its
    mode, gets its mode back, and nothing is updated, as scratchnet's ``infer``."""
    x, y, _, _ = as_dtype(digits, np.float64, 64, 0)
    net = seed_network("full-bn-dropout", seed=0)
    net.forward(x[:32])                     # training mode: running statistics move
    twin = to_torch(net)
    before = {k: v.clone() for k, v in twin.state_dict().items()}
    loss, accuracy, predicted = lockstep.torch_evaluate(twin, torch.from_numpy(x),
                                                        torch.from_numpy(y), batch_size=20)
    assert all(module.training for module in twin.modules())
    for key, value in twin.state_dict().items():
        assert torch.equal(value, before[key]), key
    logits = net.infer(x)                   # scratchnet's eval mode, for the same numbers
    np.testing.assert_array_equal(predicted, logits.argmax(axis=1))
    assert accuracy == float((predicted == y).mean())
    assert_agree(np.float64(loss), np.float64(evaluate_predictions(net, x, y, 20)[0]),
                 np.float64, "test loss")
    twin.train()
    with torch.no_grad():                   # the twin's training-mode logits differ
        assert not np.allclose(twin(torch.from_numpy(x[:32])).numpy(), logits[:32])
