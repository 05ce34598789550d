"""Tests of the benchmark's rows, its report and a quick run of the command line.

No timing is asserted (machines are noisy); only that the numbers exist and make sense.
"""

from __future__ import annotations

import math
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import accuracy, bench, work
from scratchnet import Sequential, network, seed_network
from tests.reports.tables import SPEED, UNTIED_TARGET, bias_rows


def test_report_says_when_the_bias_modes_were_not_compared() -> None:
    memory = pd.DataFrame({"peak_over_needed": [1.5]})
    text = bench.render_markdown(SPEED, memory, {"float32": 100.0}, {"CPU": "test"},
                                 "python -m reports.bench --quick", quick=True)
    section = text.split("## Untied vs tied bias (scratchnet against itself)")[1]
    assert section.split("##")[0].strip().startswith("Not measured in this run")
    assert UNTIED_TARGET not in text

    text = bench.render_markdown(SPEED, memory, {"float32": 100.0}, {"CPU": "test"},
                                 "python -m reports.bench", quick=False,
                                 bias=bias_rows(1.04, 0.98))
    section = text.split("## Untied vs tied bias (scratchnet against itself)")[1]
    table = [line for line in section.split("##")[0].splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2                              # header, rule, two rows
    assert "untied_over_tied" in table[0]
    assert "1.04" in table[2] and "0.980" in table[3]
    assert "Not measured" not in section
    assert UNTIED_TARGET in text


def test_bench_bias_times_the_two_bias_modes_against_each_other() -> None:
    row = bench.bench_bias("float32", 4, seconds=0.05, quick=True)
    # Every column but the processes' ratios, which in_fresh_processes adds.
    assert [*row, "process_ratios"] == bench.BIAS_COLUMNS
    assert (row["dtype"], row["batch"]) == ("float32", 4)
    for column in ["tied_ms", "untied_ms", "untied_over_tied"]:
        assert row[column] > 0 and math.isfinite(row[column])
    assert row["blocks"] >= 2                               # quick: 2 rounds at least
    assert row["ratio_iqr"] >= 0 and row["background_cpu"] >= 0
    # The median of the per-round ratios is near the ratio of the median times (a loose
    # bound: the two differ by noise only, but these blocks are few and short).
    assert math.isclose(row["untied_over_tied"], row["untied_ms"] / row["tied_ms"],
                        rel_tol=0.5)


def test_bench_bias_ratio_is_the_median_of_the_round_ratios(
        monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    seed_network = bench.seed_network

    def recording_seed_network(*args: object, **kwargs: object) -> Sequential:
        built.append((args, kwargs))
        return seed_network(*args, **kwargs)

    # Per round, untied / tied = 1.1, 1.0, 1.05, 1.1, 1.0: median 1.05, quartiles 1.0 and
    # 1.1. The ratio of the medians (1.1 / 1.0) would differ.
    tied = [1.0, 2.0, 1.0, 2.0, 1.0]
    untied = [1.1, 2.0, 1.05, 2.2, 1.0]

    def fake_time_interleaved(fns: dict[str, Callable[[], None]], seconds: float,
                              min_rounds: int, warmup_seconds: float
                              ) -> tuple[dict[str, bench.Timing], float]:
        assert set(fns) == {"tied", "untied"}
        for fn in fns.values():
            fn()                                            # both steps run
        return ({"tied": bench.Timing(statistics.median(tied), tied, 3),
                 "untied": bench.Timing(statistics.median(untied), untied, 3)}, 0.25)

    monkeypatch.setattr(bench, "seed_network", recording_seed_network)
    monkeypatch.setattr(bench, "time_interleaved", fake_time_interleaved)
    row = bench.bench_bias("float64", 2, seconds=1.0)
    assert sorted(kwargs["bias"] for _, kwargs in built) == ["tied", "untied"]
    assert all(args == ("full",) and kwargs["seed"] == 0 and kwargs["dtype"] == np.float64
               for args, kwargs in built)
    assert row == {"dtype": "float64", "batch": 2, "tied_ms": 1000.0,
                   "untied_ms": pytest.approx(1100.0), "untied_over_tied": pytest.approx(1.05),
                   "ratio_iqr": pytest.approx(0.1), "blocks": 5, "background_cpu": 0.25}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("speed")
    # Two training rows (untied and tied bias), one untied-vs-tied row and one inference
    # row, a tenth of a second each, 2,000 images.
    code = bench.main(["--quick", "--out", str(out), "--batches", "16", "--dtypes", "float32",
                       "--biases", "untied,tied", "--seconds", "0.1", "--images", "2000"])
    assert code == 0
    return out


def test_quick_run_writes_the_speed_table(quick_run: Path) -> None:
    speed = pd.read_csv(quick_run / "bench.csv")
    assert list(speed.columns) == bench.SPEED_COLUMNS
    assert speed[["task", "dtype", "bias", "batch"]].values.tolist() == [
        ["train", "float32", "untied", 16], ["train", "float32", "tied", 16],
        ["train_readme", "float32", "untied", 16], ["infer", "float32", "untied", 1000]]
    positive = ["scratchnet_ms", "torch_ms", "scratchnet_img_s", "torch_img_s", "ratio",
                "scratchnet_gflops", "torch_gflops", "peak_gflops", "peak_fraction", "blocks"]
    values = speed[positive].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    assert (speed[["ratio_iqr", "background_cpu", "scratchnet_faults", "torch_faults"]]
            >= 0).all().all()
    row = speed.iloc[0]
    assert math.isclose(row["ratio"], row["scratchnet_ms"] / row["torch_ms"])
    assert math.isclose(row["scratchnet_img_s"], 16 / (row["scratchnet_ms"] / 1e3))
    # The README path is timed in the train row's rounds: against the very same torch blocks.
    readme = speed[speed["task"] == "train_readme"].iloc[0]
    assert readme["torch_ms"] == row["torch_ms"] and readme["blocks"] > 0
    assert readme["torch_faults"] == row["torch_faults"]


def test_quick_run_writes_the_bias_table(quick_run: Path) -> None:
    bias = pd.read_csv(quick_run / "bias.csv")
    assert list(bias.columns) == bench.BIAS_COLUMNS
    assert bias[["dtype", "batch"]].values.tolist() == [["float32", 16]]
    values = bias[["tied_ms", "untied_ms", "untied_over_tied", "blocks"]].to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    assert (bias[["ratio_iqr", "background_cpu"]] >= 0).all().all()

    text = (quick_run / "bench.md").read_text()
    section = text.split("## Untied vs tied bias (scratchnet against itself)")[1]
    assert all(column in section for column in bench.BIAS_COLUMNS)
    targets = text.split("## Targets")[1].split("## Speed")[0]
    assert UNTIED_TARGET in targets


def test_quick_run_writes_the_report_overhead(quick_run: Path) -> None:
    overhead = pd.read_csv(quick_run / "overhead.csv")
    assert list(overhead.columns) == bench.OVERHEAD_COLUMNS
    # Quick: the report's two kinds of experiment at a tenth of the benchmark's size.
    assert overhead[["train_images", "test_images", "batch"]].values.tolist() == [
        [n // 10, t // 10, b] for _, n, t, b in bench.OVERHEAD_RUNS]
    assert ((overhead["steps_s"] > 0) & (overhead["eval_s"] > 0)).all()
    assert (overhead["epoch_s"] > overhead["steps_s"] + overhead["eval_s"]).all()
    assert np.allclose(overhead["outside_fraction"],
                       1 - (overhead["steps_s"] + overhead["eval_s"]) / overhead["epoch_s"])
    assert "## The accuracy report's time outside the training steps and evaluations" in (
        quick_run / "bench.md").read_text()


def test_quick_run_writes_the_under_load_table(quick_run: Path) -> None:
    load = pd.read_csv(quick_run / "load.csv")
    assert list(load.columns) == bench.LOAD_COLUMNS
    assert load[["task", "dtype", "batch"]].values.tolist() == [
        ["train", "float32", bench.LOAD_BATCH], ["train_readme", "float32", bench.LOAD_BATCH]]
    times = load[["quiet_ms", "loaded_ms", "torch_quiet_ms", "torch_loaded_ms"]]
    assert np.isfinite(times.to_numpy()).all() and (times > 0).all().all()
    assert np.allclose(load["loaded_over_quiet"], load["loaded_ms"] / load["quiet_ms"])
    assert np.allclose(load["loaded_ratio"], load["loaded_ms"] / load["torch_loaded_ms"])
    # The two tasks were timed in the same rounds: against the same torch blocks.
    assert load["torch_loaded_ms"].nunique() == 1 and load["torch_quiet_ms"].nunique() == 1
    # The busy loop ran while the loaded rows were timed: a core of others' load, give or
    # take what the scheduler shared.
    assert (load["load_cpu"] > 0.5).all()
    text = (quick_run / "bench.md").read_text()
    assert "## Under load: one core kept busy by another process" in text
    assert "under load, batch 64: ratio to PyTorch under the same load" in text


def test_the_busy_process_is_stopped_even_when_timing_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started = []
    popen = subprocess.Popen

    def recording_popen(args: Sequence[str]) -> subprocess.Popen:
        started.append(popen(args))
        return started[-1]

    def failing_under_load(*_args: object, **_kwargs: object) -> list[dict]:
        if started:
            raise RuntimeError("the timing failed")
        return []

    monkeypatch.setattr(bench, "BUSY_LOOP", (sys.executable, "-c", "import time; time.sleep(60)"))
    monkeypatch.setattr(bench.subprocess, "Popen", recording_popen)
    monkeypatch.setattr(bench, "bench_train", failing_under_load)
    with pytest.raises(RuntimeError, match="the timing failed"):
        bench.bench_load("float32", "untied", 0.1, quick=True)
    assert len(started) == 1 and started[0].poll() is not None        # killed and reaped


def test_each_row_shown_is_the_median_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Of three processes' rows, the one with the median ratio is shown, whole, with every
    process's ratio and the largest background load."""
    rows = iter([[{"ratio": 0.6, "x": 1, "background_cpu": 0.01}],
                 [{"ratio": 0.4, "x": 2, "background_cpu": 0.2}],
                 [{"ratio": 0.5, "x": 3, "background_cpu": 0.0}]])

    class OneCall:
        def __init__(self, **_kwargs: object) -> None:
            pass

        def __enter__(self) -> OneCall:
            return self

        def __exit__(self, *_args: object) -> None:
            pass

        def submit(self, *_args: object) -> OneCall:
            return self

        def result(self) -> list[dict]:
            return next(rows)

    monkeypatch.setattr(bench, "ProcessPoolExecutor", OneCall)
    got = bench.in_fresh_processes(bench.bench_train, (), 3, "ratio")
    assert got == [{"ratio": 0.5, "x": 3, "background_cpu": 0.2,
                    "process_ratios": "0.600 0.400 0.500"}]


def test_committed_report_is_read_from_its_header(tmp_path: Path) -> None:
    """The report targets read what the accuracy report writes (its header lines)."""
    history = pd.DataFrame({"scratchnet_seconds": [1.0, 2.0], "torch_seconds": [3.0, 4.0],
                            "eval_seconds": [0.5, 0.5], "epoch_seconds": [6.0, 6.0]})
    header = ["Produced by `make report` on 2026-12-01 in 7.5 minutes.",
              *accuracy._overhead_line([(None, history)])]
    readme = tmp_path / "README.md"
    readme.write_text("\n".join(header))
    got = bench.committed_report(readme)
    assert got["minutes"] == 7.5
    assert got["outside_fraction"] == pytest.approx(0.083)   # 1 - 11/12, printed as 8.3%
    # An older report's line counted the evaluations as outside: it is not read as this one.
    readme.write_text("Outside the two frameworks' training steps (evaluating, comparing, "
                      "batching): 22.5% of the experiments' time.")
    assert "outside_fraction" not in bench.committed_report(readme)
    assert bench.committed_report(tmp_path / "missing.md") == {}


def test_quick_run_writes_memory_and_markdown(quick_run: Path) -> None:
    memory = pd.read_csv(quick_run / "memory.csv")
    assert list(memory.columns) == work.MEMORY_COLUMNS
    values = memory.drop(columns=["dtype", "bias"]).to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all()
    row = memory.iloc[0]
    assert math.isclose(row["needed_mb"], row["activations_mb"] + row["state_mb"])
    assert row["traced_peak_mb"] >= row["between_steps_mb"]

    text = (quick_run / "bench.md").read_text()
    for needle in ["python -m reports.bench --quick", "torch threads", "CPU", "numpy",
                   "## How to read", "## Targets", "## Speed", "## Memory",
                   *bench.SPEED_COLUMNS]:
        assert needle in text
    allocator = rf"\| memory allocator +\| {re.escape(bench.ALLOCATOR_KEPT)} +\|"
    assert re.search(allocator, text)                   # glibc's malloc, as here and in CI
    assert not list(quick_run.glob("*.tmp"))             # atomic writes left no temp files


def test_a_timed_network_whose_weights_blew_up_is_refused() -> None:
    net = seed_network("full")
    bench._check_finite(net, "scratchnet")                       # finite: nothing to say
    net.named_params()["fc1.bias"][3] = np.inf
    with pytest.raises(FloatingPointError, match=r"scratchnet's fc1\.bias became non-finite"):
        bench._check_finite(net, "scratchnet")


def test_report_prose_states_the_constants_it_runs_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every figure the "How to read" text gives of the timing is the constant's value: a
    changed constant changes the text."""
    memory = pd.DataFrame({"peak_over_needed": [1.5]})

    def how_to_read() -> str:
        text = bench.render_markdown(SPEED, memory, {"float32": 100.0}, {"CPU": "test"},
                                     "python -m reports.bench", quick=False)
        return text.split("## How to read")[1].split("## Targets")[0]

    assert "blocks of about 75 ms each, with 0.12 s pauses" in how_to_read()
    assert "layers 128 (float32) or 64 (float64) at a time" in how_to_read()
    for name, value in [("BLOCK_SECONDS", 0.05), ("PAUSE_SECONDS", 0.3), ("QUIET_TIMEOUT", 45.0),
                        ("BUSY_RETRIES", 3), ("BUSY_CORES", 0.4), ("INFER_BATCH", 500),
                        ("MATMUL_SIZE", 1024), ("MOMENTUM", 0.5)]:
        monkeypatch.setattr(bench, name, value)
    monkeypatch.setattr(network, "INFER_CHUNK", 256)         # the library's own chunk
    text = how_to_read()
    for needle in ["blocks of about 50 ms each, with 0.3 s pauses", "waits up to 45 s",
                   "at most 3 times", "more than 0.4 cores", "in batches of 500",
                   "layers 256 (float32) or 128 (float64) at a time", "own 1024x1024 matmul",
                   "SGD with momentum 0.5"]:
        assert needle in text, needle
