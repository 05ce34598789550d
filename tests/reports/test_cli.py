"""The scratchnet command: what it prints, and one clear line for every bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reports.cli import main
from tests.real_data import require_real_mnist


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_summary(capsys) -> None:
    code, out, _ = run(capsys, "summary")
    assert code == 0
    assert "4x24x24" in out and "21,518 parameters" in out


def test_compare_on_random_images(capsys) -> None:
    code, out, _ = run(capsys, "compare", "--random", "--batch", "3", "--bias", "tied")
    assert code == 0
    assert "All 31 quantities agree with PyTorch (float64)." in out


def test_compare_on_real_digits(capsys) -> None:
    code, out, _ = run(capsys, "compare", "--data-dir", str(require_real_mnist()),
                       "--no-download", "--variant", "shallow", "--dtype", "float32")
    assert code == 0 and "agree with PyTorch (float32)" in out


def test_train_writes_a_checkpoint_and_resumes(capsys, tmp_path) -> None:
    data = str(require_real_mnist())
    ckpt, hist = tmp_path / "run.npz", tmp_path / "history.csv"
    args = ["train", "--data-dir", data, "--no-download", "--train-size", "500",
            "--epochs", "1", "--no-progress", "--checkpoint", str(ckpt), "--history", str(hist)]
    code, out, _ = run(capsys, *args)
    assert code == 0 and ckpt.exists() and hist.exists()
    code, out, _ = run(capsys, *args[:-4], "--epochs", "2", "--checkpoint", str(ckpt),
                       "--resume")
    assert code == 0
    assert out.splitlines()[0].split()[:2] == ["epoch", "train_loss"]
    assert len(out.strip().splitlines()) == 3  # header and two epochs, the first restored


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "TrainConfig.epochs: expected an integer >= 1, got 0"),
    (["train", "--lr", "-1", "--data-dir", "/nonexistent"], "TrainConfig.lr"),
    (["train", "--data-dir", "/nonexistent", "--no-download"], "No good copy of mnist"),
    (["train", "--train-size", "0"], "--train-size: expected 1..60000, got 0"),
    (["report", "--only", "nope"], r"unknown experiment(s) ['nope']"),
    (["compare", "--data-dir", "/nonexistent", "--no-download"], "No good copy of mnist"),
])
def test_errors_are_one_clear_line(capsys, monkeypatch, tmp_path, argv, message) -> None:
    # Nothing to find anywhere: "make test" exports $SCRATCHNET_DATA, and a user cache may
    # hold MNIST, either of which the loader would rightly fall back to.
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _, err = run(capsys, *argv)
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith(f"scratchnet {argv[0]}: error: ")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["summary", "--variant", "deep"], ["train", "--epochs", "x"],
                                  ["frobnicate"], []])
def test_bad_arguments_exit_2_with_usage(capsys, argv) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "error:" in err and "Traceback" not in err


def test_console_script_is_installed() -> None:
    done = subprocess.run([sys.executable, "-m", "reports.cli", "summary", "--bias", "tied"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "conv1" in done.stdout


def test_report_names_the_experiments_it_was_asked_for(capsys, monkeypatch, tmp_path) -> None:
    """The command the report says made it includes --only (its README header and the
    relu-boundary page quote it)."""
    from reports import accuracy

    seen = {}
    monkeypatch.setattr(accuracy, "run_report", lambda *args, **kwargs: seen.update(kwargs))
    code, _, _ = run(capsys, "report", "--only", "relu-boundary", "seed-full-1k",
                     "--out", str(tmp_path))
    assert code == 0
    assert seen["command"] == "scratchnet report --only relu-boundary seed-full-1k"
