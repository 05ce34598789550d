"""The scratchnet command: what it prints, and one clear line for every bad input."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import accuracy, bench, check_cli, cli, grade_cli, machine, usage
from reports.cli import main
from scratchnet.checkpoint import load_checkpoint
from scratchnet.data import Dataset
from tests.real_data import real_dataset, require_real_mnist


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """stderr without argparse's usage block (``usage:`` and its indented continuation)."""
    lines = err.splitlines()
    while lines and (lines[0].startswith("usage:") or lines[0].startswith(" ")):
        lines.pop(0)
    return lines


def assert_one_error_line(code: int, err: str, command: str, *needles: str) -> str:
    lines = error_lines(err)
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"scratchnet {command}: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], err
    return lines[0]


@pytest.fixture
def mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands get the first 1,000 training and 200 test images of real MNIST,
    without reading the files again (tests.real_data caches them): small and fast."""
    full = real_dataset("mnist")
    small = Dataset("mnist", full.train_images[:1000], full.train_labels[:1000],
                    full.test_images[:200], full.test_labels[:200], full.source)
    monkeypatch.setattr(cli, "_dataset", lambda args: small)


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


def test_adam_trains_with_the_default_arguments(capsys, mnist, tmp_path) -> None:
    """--momentum used to default to SGD's 0.9, which Adam refuses: every default must fit
    the optimizer chosen."""
    code, _, err = run(capsys, "train", "--optimizer", "adam", "--train-size", "200",
                         "--epochs", "1", "--no-progress", "--checkpoint",
                         str(tmp_path / "run.npz"))
    assert code == 0, err
    saved = load_checkpoint(tmp_path / "run.npz")
    assert saved.config["optimizer"] == "adam" and saved.config["momentum"] == 0.0


def test_sgd_keeps_momentum_0_9_by_default(capsys, mnist, tmp_path) -> None:
    code, _, err = run(capsys, "train", "--train-size", "100", "--epochs", "1",
                       "--no-progress", "--checkpoint", str(tmp_path / "run.npz"))
    assert code == 0, err
    assert load_checkpoint(tmp_path / "run.npz").config["momentum"] == cli.SGD_MOMENTUM


@pytest.mark.parametrize("value", ["0.5", "0"])
def test_momentum_with_adam_is_a_usage_error(capsys, value: str) -> None:
    code, _, err = run(capsys, "train", "--optimizer", "adam", "--momentum", value)
    assert_one_error_line(code, err, "train",
                          "--momentum: is for --optimizer sgd or rmsprop, not adam")


def test_rmsprop_trains_with_its_options(capsys, mnist, tmp_path) -> None:
    """--optimizer rmsprop takes --momentum (default 0, as torch's)."""
    path = tmp_path / "run.npz"
    code, _, err = run(capsys, "train", "--optimizer", "rmsprop", "--lr", "0.001",
                       "--train-size", "100", "--epochs", "1", "--no-progress",
                       "--checkpoint", str(path))
    assert code == 0, err
    saved = load_checkpoint(path)
    assert (saved.config["optimizer"], saved.config["momentum"]) == ("rmsprop", 0.0)
    assert {key.split(".")[0] for key in saved.optimizer_state} == {"step", "square_avg"}
    code, _, err = run(capsys, "train", "--optimizer", "rmsprop", "--momentum", "0.5",
                       "--train-size", "100", "--epochs", "1", "--no-progress",
                       "--checkpoint", str(tmp_path / "momentum.npz"))
    assert code == 0, err
    saved = load_checkpoint(tmp_path / "momentum.npz")
    assert saved.config["momentum"] == 0.5
    assert {key.split(".")[0] for key in saved.optimizer_state} == {
        "step", "square_avg", "momentum_buffer"}


# ---------------------------------------------------------------- every flag, bad values

NOT_A_DIR = "/etc/hostname/below"  # below a file
BAD_BY_TYPE = {
    usage.positive_int: ["0", "-1", "1.5", "x", ""],
    usage.non_negative_int: ["-1", "1.5", "x"],
    usage.positive_float: ["0", "-1", "nan", "inf", "-inf", "x"],
    usage.non_negative_float: ["-1", "nan", "inf", "x"],
    usage.fraction: ["1", "-0.1", "nan", "x"],
    usage.positive_ints: ["0", "1,,2", "a", "-1", "16,x"],
}
BAD_BY_FLAG = {  # flags whose values are names of things: bad values and extra arguments
    "--data-dir": (["/nonexistent-data", "/etc/hostname", "/proc/self"], []),
    "--checkpoint": ([f"{NOT_A_DIR}/run.npz", "/nonexistent/run.npz", "/tmp", "/dev/null"],
                     []),
    "--history": ([f"{NOT_A_DIR}/h.csv", "/proc/h.csv", "/tmp", "/dev/null"], []),
    "--out": ([NOT_A_DIR, "/etc/hostname", "/proc/x", "/dev/null"], []),
    "--only": (["nope"], []),
    "--kind": (["nope", ""], []),
    "--declare": (["nope", "=x", "colour=red"], []),
    "--json": (["/nonexistent/report.json", "/tmp", f"{NOT_A_DIR}/report.json"], []),
    "--config": (["/nonexistent/grading.toml", "/etc/hostname", "/tmp"], []),
    "--submission": (["/nonexistent", "/etc/hostname"], []),
    "--results": (["/tmp", f"{NOT_A_DIR}/results.json", "/proc/results.json"], []),
}
#: What ``check`` needs besides the flag walked: a class to check (never checked: the walk
#: stops before any work).
CHECK_TARGET = "tests/reference/student_layers.py:StudentReLU"
#: What ``grade`` needs besides the flag walked: a folder holding a submission (never
#: graded: the walk stops before any work).
GRADE_SUBMISSIONS = "tests/reference"


def parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, the benchmark's own included."""
    action = next(a for a in cli.build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    commands = dict(action.choices)
    commands["bench"] = bench.build_parser("scratchnet bench")
    return commands


def bad_values(action: argparse.Action) -> list[str]:
    """Bad values of one option, as separate argv tails; fails for an unknown kind."""
    flag = action.option_strings[-1]
    if action.nargs == 0:  # store_true
        return [f"{flag}=x"]
    if action.choices is not None:
        return ["nope", ""]
    if action.type in BAD_BY_TYPE:
        return BAD_BY_TYPE[action.type]
    if getattr(action.type, "__name__", "") == "words_from":
        return ["nope", "float32,nope"]
    if flag in BAD_BY_FLAG:
        return BAD_BY_FLAG[flag][0]
    raise AssertionError(f"{flag}: no bad values known for this kind of option; add them here")


def flag_cases() -> list[tuple[str, str, str]]:
    cases = []
    for command, parser in parsers().items():
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._HelpAction):
                continue
            cases += [(command, action.option_strings[-1], value) for value in bad_values(action)]
    return cases


def test_every_command_and_flag_is_walked() -> None:
    walked = {(command, flag) for command, flag, _ in flag_cases()}
    assert {"report", "train", "compare", "summary", "bench", "check", "grade"} == \
        {c for c, _ in walked}
    assert len(walked) >= 40 and ("train", "--max-grad-norm") in walked


@pytest.mark.parametrize(("command", "flag", "value"), flag_cases())
def test_every_flag_refuses_bad_values_in_one_line(
    capsys, monkeypatch, tmp_path, command: str, flag: str, value: str
) -> None:
    """Each bad value ends in at most one line after argparse's usage, naming the flag,
    exit status 2, and nothing trained, timed or written."""
    monkeypatch.setenv("SCRATCHNET_DATA", str(require_real_mnist()))  # a good copy elsewhere
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for where, name in ((accuracy, "run_experiment"), (bench, "run_benchmark"),
                        (cli, "_network"), (check_cli, "check_implementation"),
                        (grade_cli, "grade"), (grade_cli, "grade_gradescope")):
        monkeypatch.setattr(where, name, lambda *a, **k: pytest.fail("work started"))
    argv = [command, value] if value.startswith("--") else [command, flag, value]
    if command in ("report", "bench") and flag != "--out":
        argv += ["--out", str(tmp_path / "out")]
    if command == "check":
        argv += [CHECK_TARGET] + ([] if flag == "--kind" else ["--kind", "relu"])
    if command == "grade" and flag in ("--submission", "--results"):
        argv += ["--gradescope"] + (["--submission", GRADE_SUBMISSIONS]
                                    if flag == "--results" else [])
    elif command == "grade" and not value.startswith("--"):
        argv += [GRADE_SUBMISSIONS] + (["--out", str(tmp_path / "out")]
                                       if flag != "--out" else [])
    code, _, err = run(capsys, *argv)
    line = assert_one_error_line(code, err, command)
    assert flag in line, err
    assert ".tmp" not in line and ".probe" not in line  # the user's path, not ours


@pytest.mark.parametrize("argv", [["summary", "--variant", "deep"], ["train", "--epochs"],
                                  ["train", "--nope"], ["frobnicate"], []])
def test_bad_arguments_exit_2_with_usage(capsys, argv) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert len(error_lines(err)) == 1 and "error:" in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--resume"], "--resume: needs --checkpoint FILE"),
    (["train", "--force-resume"], "--force-resume: goes with --resume"),
    (["train", "--train-size", "1001"], "--train-size 1001: the training set has only 1,000"),
    (["compare", "--batch", "10001"], "--batch 10001: expected at most 10,000"),
    (["compare", "--batch", "10001", "--random"], "--batch 10001: expected at most 10,000"),
])
def test_flags_that_do_not_fit_are_one_line(capsys, mnist, argv, message: str) -> None:
    code, _, err = run(capsys, *argv)
    assert_one_error_line(code, err, argv[0], message)


# ---------------------------------------------------------------- data lookup


@pytest.mark.parametrize("command", ["train", "compare", "report"])
def test_a_data_dir_without_the_data_is_an_error_not_a_fallback(
    capsys, monkeypatch, tmp_path, command: str
) -> None:
    """$SCRATCHNET_DATA holds MNIST, but the user named another directory: use that one or
    fail, never quietly train on another copy."""
    monkeypatch.setenv("SCRATCHNET_DATA", str(require_real_mnist()))
    (tmp_path / "empty").mkdir()
    extra = ["--out", str(tmp_path / "out"), "--quick"] if command == "report" else []
    code, _, err = run(capsys, command, "--data-dir", str(tmp_path / "empty"), *extra)
    assert_one_error_line(code, err, command, f"--data-dir {tmp_path / 'empty'}: holds no "
                                              "mnist files")


def test_nothing_found_says_the_whole_problem_in_the_first_line(
    capsys, monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _, err = run(capsys, "compare", "--no-download")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0] == ("scratchnet compare: error: No good copy of mnist was found, "
                                   "and download was not allowed. Looked in:")


# ---------------------------------------------------------------- checkpoints, divergence


@pytest.mark.parametrize("content", [b"", b"not a checkpoint\n", b"PK\x03\x04broken"])
def test_a_damaged_checkpoint_is_one_line_naming_the_file(
    capsys, mnist, tmp_path, content: bytes
) -> None:
    path = tmp_path / "run.npz"
    path.write_bytes(content)
    code, _, err = run(capsys, "train", "--checkpoint", str(path), "--resume", "--epochs", "1",
                       "--train-size", "100", "--no-progress")
    assert_one_error_line(code, err, "train", f"{path}: not a complete zip archive")


def test_resume_with_other_settings_needs_force(capsys, mnist, tmp_path) -> None:
    path = tmp_path / "run.npz"
    args = ["train", "--checkpoint", str(path), "--train-size", "100", "--no-progress"]
    assert run(capsys, *args, "--epochs", "1")[0] == 0
    code, _, err = run(capsys, *args, "--epochs", "2", "--resume", "--lr", "0.02")
    assert_one_error_line(code, err, "train", f"--resume {path}: this run differs from the "
                          "checkpoint in lr (checkpoint 0.01, this run 0.02); add "
                          "--force-resume to continue anyway")
    code, _, err = run(capsys, *args, "--epochs", "2", "--resume", "--lr", "0.02",
                       "--force-resume")
    assert code == 0, err
    assert load_checkpoint(path).epoch == 2 and load_checkpoint(path).config["lr"] == 0.02


def test_an_existing_checkpoint_is_not_started_over(capsys, mnist, tmp_path) -> None:
    path = tmp_path / "run.npz"
    path.write_bytes(b"precious")
    code, _, err = run(capsys, "train", "--checkpoint", str(path))
    assert_one_error_line(code, err, "train", f"--checkpoint {path}: already exists")
    assert path.read_bytes() == b"precious"


def test_a_diverged_run_exits_1_and_keeps_the_last_good_epoch(capsys, mnist, tmp_path) -> None:
    path, history = tmp_path / "run.npz", tmp_path / "history.csv"
    args = ["train", "--checkpoint", str(path), "--history", str(history), "--train-size",
            "100", "--batch-size", "50", "--no-progress"]
    assert run(capsys, *args, "--epochs", "1")[0] == 0
    code, out, err = run(capsys, *args, "--epochs", "3", "--resume", "--max-loss", "0.01")
    assert code == 1 and out == "" and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert re.fullmatch(r"scratchnet train: diverged at epoch 2, step 1 of 2: loss \S+ is "
                        r"past the bound max_loss=0\.01; checkpoint \S+ and history \S+ "
                        r"keep epoch 1\n", err), err
    assert load_checkpoint(path).epoch == 1
    assert pd.read_csv(history)["epoch"].tolist() == [1]


def test_an_exploding_learning_rate_never_exits_0(capsys, mnist) -> None:
    with np.errstate(all="ignore"):
        code, _, err = run(capsys, "train", "--lr", "1e6", "--train-size", "100", "--epochs",
                           "2", "--no-progress")
    assert code == 1 and "Traceback" not in err
    assert err.startswith("scratchnet train: diverged at epoch 1, step ")
    assert len(err.splitlines()) == 1, err


def test_interrupt_and_warnings_are_one_line(capsys, monkeypatch) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_summary", interrupted)
    code, _, err = run(capsys, "summary")
    assert code == 130 and err == "scratchnet summary: interrupted\n"

    monkeypatch.setattr(cli, "cmd_summary", lambda args: warnings.warn("overflow", RuntimeWarning,
                                                                       stacklevel=1))
    code, _, err = run(capsys, "summary")
    assert code == 0 and err == "scratchnet summary: warning: overflow (RuntimeWarning)\n"


# ---------------------------------------------------------------- smoke runs


def committed(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_quick_report_writes_to_the_cache_never_the_committed_report(
    capsys, monkeypatch, tmp_path
) -> None:
    """It used to write into reports/accuracy, over the full report."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(accuracy, "run_report", lambda out, **kwargs: calls.append(out))
    code, _, err = run(capsys, "report", "--quick")
    smoke = tmp_path / "cache" / "scratchnet" / "smoke" / "accuracy"
    assert code == 0 and calls == [smoke]
    assert err == f"smoke run (--quick): the report is in {smoke}\n"
    calls.clear()
    assert run(capsys, "report")[0] == 0 and calls == [accuracy.DEFAULT_OUT]  # the full run


@pytest.mark.parametrize(("command", "isa", "out"), [
    ("report", None, accuracy.DEFAULT_OUT), ("bench", "native", bench.SPEED_DIR),
    ("bench", "native", bench.AVX2_SPEED_DIR), ("bench", "avx2", bench.SPEED_DIR)])
def test_quick_into_the_committed_results_is_refused(capsys, monkeypatch, command, isa,
                                                     out) -> None:
    monkeypatch.setattr(accuracy, "run_report", lambda *a, **k: pytest.fail("ran"))
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: pytest.fail("ran"))
    for name, value in machine.AVX2_CODE.items():     # as after the restart of --isa avx2
        monkeypatch.setenv(name, value)
    isa_args = () if isa is None else ("--isa", isa)
    code, _, err = run(capsys, command, "--quick", *isa_args, "--out", str(out / ".." / out.name))
    assert_one_error_line(code, err, command, "a --quick smoke run never replaces the "
                                              "committed results there")


def test_quick_report_never_replaces_a_full_one_elsewhere(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(accuracy, "run_report", lambda *a, **k: pytest.fail("ran"))
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "README.md").write_bytes((accuracy.DEFAULT_OUT / "README.md").read_bytes())
    code, _, err = run(capsys, "report", "--quick", "--out", str(copy))
    assert_one_error_line(code, err, "report", "README.md: holds a full report")


def test_quick_bench_writes_to_the_cache(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []

    def fake_benchmark(**kwargs):
        calls.append(kwargs["out_dir"])
        raise KeyboardInterrupt  # stop here: where it would write is all this test needs

    monkeypatch.setattr(bench, "run_benchmark", fake_benchmark)
    code, _, err = run(capsys, "bench", "--quick")
    assert code == 130
    assert calls == [tmp_path / "cache" / "scratchnet" / "smoke" / "speed"]
    assert f"writing to {calls[0]}" in err


def test_bench_isa_avx2_restarts_itself_under_the_avx2_settings(capsys, monkeypatch) -> None:
    """The libraries pick their vector code when loaded: --isa avx2 starts the bench anew
    with reports.machine.AVX2_CODE in its environment, its own arguments unchanged."""
    for name in machine.AVX2_CODE:
        monkeypatch.delenv(name, raising=False)
    calls = []

    def fake_execve(path, argv, env):
        calls.append((path, argv, env))
        raise KeyboardInterrupt               # stop here: what it would start is all we need

    monkeypatch.setattr(bench.os, "execve", fake_execve)
    monkeypatch.setattr(bench, "run_benchmark", lambda *a, **k: pytest.fail("ran"))
    code, _, _ = run(capsys, "bench", "--isa", "avx2", "--batches", "64")
    assert code == 130
    [(path, argv, env)] = calls
    assert path == sys.executable
    assert argv == [sys.executable, "-m", "reports.bench", "--isa", "avx2", "--batches", "64"]
    assert {name: env[name] for name in machine.AVX2_CODE} == machine.AVX2_CODE


@pytest.mark.parametrize(("isa", "committed_dir", "smoke"), [
    ("native", bench.SPEED_DIR, "speed"), ("avx2", bench.AVX2_SPEED_DIR, "speed-avx2")])
def test_bench_writes_each_isa_to_its_own_directory(capsys, monkeypatch, tmp_path, isa,
                                                    committed_dir, smoke) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name, value in machine.AVX2_CODE.items():     # as after the restart of --isa avx2
        monkeypatch.setenv(name, value)
    calls = []

    def fake_benchmark(**kwargs):
        calls.append(kwargs["out_dir"])
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run_benchmark", fake_benchmark)
    assert run(capsys, "bench", "--isa", isa)[0] == 130
    assert run(capsys, "bench", "--isa", isa, "--quick")[0] == 130
    assert calls == [committed_dir, tmp_path / "cache" / "scratchnet" / "smoke" / smoke]


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


# ---------------------------------------------------------------- one tree, the library's choices


def test_choices_are_the_librarys_own() -> None:
    """What the commands accept is what the library does, named once there."""
    from scratchnet.data.datasets import DATASETS
    from scratchnet.layers.base import FLOAT_DTYPES
    from scratchnet.layers.conv import BIAS_MODES
    from scratchnet.network import VARIANTS, seed_network
    from scratchnet.train import OPTIMIZERS

    options = {a.option_strings[-1]: a for a in parsers()["train"]._actions if a.option_strings}
    assert options["--variant"].choices == VARIANTS
    assert options["--dtype"].choices == tuple(dtype.name for dtype in FLOAT_DTYPES)
    assert options["--optimizer"].choices == tuple(OPTIMIZERS)
    assert options["--dataset"].choices == tuple(DATASETS)
    assert [usage.bias_mode(word) for word in options["--bias"].choices] == list(BIAS_MODES)
    for word in options["--bias"].choices:                  # every word builds a network
        seed_network("shallow", bias=usage.bias_mode(word))
    bench_options = {a.option_strings[-1]: a for a in parsers()["bench"]._actions
                     if a.option_strings}
    assert bench_options["--dtypes"].type("float32,float64") == usage.DTYPES
    assert set(bench.TIMED_BIASES) == set(BIAS_MODES) - {None}


@pytest.mark.parametrize(("flag", "value"), [("--biases", "none"), ("--biases", "untied,none"),
                                             ("--dtypes", "float16")])
def test_bench_refuses_what_it_cannot_time(capsys, flag: str, value: str) -> None:
    code, _, err = run(capsys, "bench", flag, value)
    assert_one_error_line(code, err, "bench", flag, value)


def test_bench_is_one_parser_in_the_tree_and_as_a_module(capsys, monkeypatch, tmp_path) -> None:
    """``scratchnet bench`` and ``python -m reports.bench`` take the same options, parsed by
    the same definition, and the report quotes the command as given."""
    def options(parser: argparse.ArgumentParser) -> list[tuple]:
        return [(a.option_strings, a.default, a.help) for a in parser._actions]

    action = next(a for a in cli.build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    assert options(action.choices["bench"]) == options(bench.build_parser())
    seen = {}

    def fake_benchmark(**kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run_benchmark", fake_benchmark)
    out = tmp_path / "x y"
    code, _, _ = run(capsys, "bench", "--quick", "--dtypes", "float64", "--out", str(out))
    assert code == 130
    assert seen["command"] == f"python -m reports.bench --quick --dtypes float64 --out '{out}'"
    assert (seen["dtypes"], seen["batches"], seen["biases"]) == (
        ("float64",), bench.QUICK_GRID["batches"], bench.QUICK_GRID["biases"])
