"""Speed and memory benchmark: scratchnet against its PyTorch twin, side by side.

This module times the rows, renders the report (``bench.md``) and runs it all. The timed
functions are in :mod:`reports.steps`; the FLOPs and memory a step needs, and its measured
memory, in :mod:`reports.work`; the targets the rows are judged against in
:mod:`reports.targets`.

What is timed, on the full seed network (``seed_network("full")``):

* **train**: one training step = forward, loss, backward, SGD update (``reports.steps.LR``
  and ``MOMENTUM``), for every batch size, dtype and bias mode asked for. scratchnet runs
  ``SoftmaxCrossEntropy`` + ``backward(need_input_grad=False)`` + ``optim.SGD``; torch runs
  ``zero_grad(set_to_none=True)``, forward, ``F.cross_entropy``, ``backward()``, ``step()``
  on an input tensor without ``requires_grad``.
* **train_readme**: the same step on the README's path, ``net.backward(loss.backward())``,
  which also computes the input images' gradient (PyTorch's step stays the same: it never
  computes the gradient of an input that does not require one), for every batch size and
  dtype, with the first bias mode asked for. Its steps are timed in the same interleaved
  rounds as that ``train`` row's and torch's (three functions, one torch timing), so the
  two rows differ by what the two paths cost, not by the host's drift between them.
* **infer**: class predictions for ``INFER_IMAGES`` random 1x28x28 images in batches of
  ``reports.steps.INFER_BATCH`` (scratchnet: ``net.predict`` per batch; torch: the model +
  argmax under ``torch.inference_mode()``), per dtype, with the seed's untied bias.
* **overhead**: the accuracy report's share of time outside the two frameworks' training
  steps (evaluating the test set, comparing weights, batching): ``train_lockstep`` as the
  report runs it (one thread, no pause), for one epoch on random images, in the proportions
  of the report's two kinds of experiment (:data:`OVERHEAD_RUNS`).
* **under load**: the batch-64 ``train`` and ``train_readme`` steps and torch's, timed
  quiet, then again while a background process the bench starts (``BUSY_LOOP``) keeps one
  core busy, and killed after (:func:`bench_load`).
* **bias**: scratchnet against itself, the untied bias against the tied one: the two
  networks' training steps timed against each other (:func:`bench_bias`), for every dtype
  and batch size, when both bias modes are asked for. ``untied_over_tied`` is the median
  over rounds of the ratio of the two blocks of a round. The target "the untied bias costs
  at most a few percent" is judged on it: the ``train`` rows of the two modes are timed
  about a minute apart, each against torch, and the host's drift between them is larger
  than the difference sought.

How it is timed: the functions compared (scratchnet and torch, or tied and untied) are
warmed up, then run in *interleaved blocks* of ``k`` steps, ``k`` chosen so a block lasts
about ``BLOCK_SECONDS``, with a ``PAUSE_SECONDS`` pause after every block and the order
alternating each round (:mod:`reports.timing` explains why: OpenBLAS's spinning thread, the
host's drift). The time
per step is the median over blocks of ``block time / k``; ``ratio`` is the ratio of the
two medians. Every row is timed so in ``PROCESSES`` fresh processes one after another
(:func:`in_fresh_processes`), and the row shown is the one with the median ratio: one
process's ratio is one draw from a spread. Thread settings are left at their defaults and
recorded; scratchnet's network passes set NumPy's BLAS to one thread themselves
(``scratchnet/threads.py``).

Run ``python -m reports.bench`` (about 15 minutes) or ``python -m reports.bench --quick``
(seconds; a rough smoke run, written to the user cache, never over the committed results).
Results go to ``reports/speed/`` (the files of ``OUTPUTS``). ``render_markdown`` builds
every figure its prose states from the constants above and in :mod:`reports.timing`,
:mod:`reports.steps` and :mod:`reports.work`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import math
import multiprocessing
import os
import re
import shlex
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from reference.lockstep import train_lockstep
from reference.twin import to_torch
from reports.machine import AVX2_CODE, cpu_line, description, limited_to_avx2
from reports.steps import (
    INFER_BATCH,
    LR,
    MOMENTUM,
    random_batch,
    scratchnet_infer,
    scratchnet_train_step,
    torch_infer,
    torch_train_step,
)
from reports.targets import target_table
from reports.timing import (
    BLOCK_SECONDS,
    MATMUL_SIZE,
    PAUSE_SECONDS,
    Timing,
    keep_freed_memory,
    matmul_peak_gflops,
    time_interleaved,
    wait_for_quiet,
    with_background,
)
from reports.usage import (
    BIASES,
    DTYPES,
    NO_BIAS,
    output_dir,
    output_error,
    positive_float,
    positive_int,
    positive_ints,
    smoke_arguments,
    words_from,
)
from reports.work import (
    MB,
    MEMORY_BATCH,
    MEMORY_COLUMNS,
    flop_table,
    flops_per_image,
    measure_train_memory,
)
from reports.workers import one_thread
from scratchnet import Sequential, seed_network
from scratchnet.atomic import check_writable, write_atomically
from scratchnet.network import infer_chunk
from scratchnet.train import TrainConfig

SPEED_DIR = Path(__file__).parent / "speed"  # the committed results
#: The committed results of ``--isa avx2``: this CPU running AVX2 code only (AVX2_CODE).
AVX2_SPEED_DIR = SPEED_DIR / "avx2"
#: ``--isa``: the libraries' vector code, ``native`` (the CPU's widest) or ``avx2``.
ISAS = ("native", "avx2")
OUTPUTS = ("bench.csv", "bias.csv", "load.csv", "memory.csv", "overhead.csv", "bench.md")
INFER_IMAGES = 10_000              # images per inference pass: the test set's size
#: The training grid of a full run: batch sizes, dtypes, bias modes (the first bias mode
#: is also the one of the README's path and of inference).
BATCHES = (1, 16, 64, 256)
BIAS_GRID = ("untied", "tied")
#: Bias modes that can be timed: those of the library with a bias.
TIMED_BIASES = tuple(word for word in BIASES if word != NO_BIAS)
QUICK_GRID = {"batches": (16,), "dtypes": ("float32",), "biases": ("untied",)}  # --quick's
QUICK_SECONDS = 0.3                # timed seconds of every row of a --quick run
#: The "memory allocator" line of the header when ``keep_freed_memory`` took effect.
ALLOCATOR_KEPT = "glibc malloc, keeping freed memory (no mmap'd blocks, no trimming)"
QUIET_TIMEOUT = 30.0               # full run: wait up to this long for other processes...
BUSY_CORES = 0.25                  # ...and redo a row whose background load exceeded this
BUSY_RETRIES = 2
#: Every row is timed in this many fresh processes (a --quick run: one); the row shown is
#: the one whose ratio is their median. One process's ratio is one draw from a spread:
#: torch's float64 batch-64 step took 4.4-8.6 ms in four processes one after another
#: (reports/speed/history.md), whatever the length of the row.
PROCESSES = 3
ROW_SECONDS = 6.0                  # timed seconds of a speed row in each process (quick:
BIAS_SECONDS = 6.0                 # QUICK_SECONDS), and of an untied-vs-tied row
#: What the server of the fresh processes imports once (:func:`in_fresh_processes`); not
#: this module, which a ``python -m reports.bench`` child imports as its main module.
FORK_PRELOAD = ("numpy", "pandas", "torch", "reference.twin", "reports.steps")
LOAD_BATCH = 64                    # the batch of the under-load rows
#: The background process of the under-load rows: it keeps one core busy until it is
#: killed (a browser tab, a test suite beside the training).
BUSY_LOOP = (sys.executable, "-c", "while True: pass")

SPEED_COLUMNS = [
    "task", "dtype", "bias", "batch", "scratchnet_ms", "torch_ms", "scratchnet_img_s",
    "torch_img_s", "ratio", "ratio_iqr", "scratchnet_gflops", "torch_gflops", "peak_gflops",
    "peak_fraction", "scratchnet_faults", "torch_faults", "blocks", "background_cpu",
    "process_ratios",
]
BIAS_COLUMNS = [
    "dtype", "batch", "tied_ms", "untied_ms", "untied_over_tied", "ratio_iqr", "blocks",
    "background_cpu", "process_ratios",
]
LOAD_COLUMNS = [
    "task", "dtype", "bias", "batch", "quiet_ms", "loaded_ms", "loaded_over_quiet",
    "torch_quiet_ms", "torch_loaded_ms", "loaded_ratio", "background_cpu", "load_cpu",
    "process_ratios",
]
#: The column whose median over the processes picks the row shown, per kind of row.
MEDIAN_OF = {"speed": "ratio", "bias": "untied_over_tied", "load": "loaded_over_quiet"}
OVERHEAD_COLUMNS = [
    "run", "train_images", "test_images", "batch", "epoch_s", "steps_s", "eval_s",
    "outside_fraction", "background_cpu",
]
#: The accuracy report's two kinds of experiment (reports/accuracy.py): (training images,
#: batch), each tested on the test set (``INFER_IMAGES``).
REPORT_KINDS = ((60_000, 64), (1_000, 1))
#: They are timed at 1/OVERHEAD_SCALE of their size (1/QUICK_SCALE of that with --quick),
#: training and test images in the same proportion: (what, training images, test images,
#: batch).
OVERHEAD_SCALE, QUICK_SCALE = 5, 10
OVERHEAD_RUNS = [(f"like {images:,} images at batch {batch}", images // OVERHEAD_SCALE,
                  INFER_IMAGES // OVERHEAD_SCALE, batch) for images, batch in REPORT_KINDS]
REPORT_README = Path(__file__).parent / "accuracy" / "README.md"


# ------------------------------------------------------------------------ benchmarks
def bench_train(dtype: str, bias: str, batch: int, seconds: float, quick: bool = False,
                readme: bool = False) -> list[dict[str, float | int | str]]:
    """The ``train`` row, and with ``readme`` the ``train_readme`` row: scratchnet's
    training steps (two networks with the same weights, one per path) and torch's, timed
    in the same interleaved rounds, so both rows are measured against the same torch
    blocks."""
    x, labels = random_batch(batch, dtype)
    input_grads = {"train": False, "train_readme": True} if readme else {"train": False}
    nets = {task: seed_network("full", bias=bias, dtype=np.dtype(dtype), seed=0)
            for task in input_grads}
    fns = {task: scratchnet_train_step(nets[task], x, labels, input_grad)
           for task, input_grad in input_grads.items()}
    fns["torch"] = torch_train_step(to_torch(nets["train"]), x, labels)
    timings, background = time_interleaved(fns, seconds, min_rounds=2 if quick else 5,
                                           warmup_seconds=0.1 if quick else 0.5)
    rows = []
    for task, net in nets.items():
        _check_finite(net, "scratchnet")
        rows.append(_row(task, dtype, bias, batch, batch, flops_per_image(net)[1], timings,
                         background, ours=task))
    return rows


def bench_report_overhead(what: str, train_images: int, test_images: int, batch: int,
                          epochs: int = 1) -> dict[str, float | int | str]:
    """One row of the overhead table: ``train_lockstep`` as the accuracy report runs it
    (one thread, no pause between the frameworks; ``reports/workers.py``) on random images,
    and the share of its time outside the two frameworks' training steps and their
    evaluations on the test set."""
    x, labels = random_batch(train_images, "float64", seed=2)
    test_x, test_labels = random_batch(test_images, "float64", seed=3)
    net = seed_network("full", bias="untied", dtype=np.float64, seed=0)
    config = TrainConfig(epochs=epochs, batch_size=batch, lr=LR, momentum=MOMENTUM, seed=0)
    with one_thread():
        history, background = with_background(lambda: train_lockstep(
            net, x, labels, test_x, test_labels, config, progress=False, pause=0.0))
    total = history["epoch_seconds"].sum()
    steps = (history["scratchnet_seconds"] + history["torch_seconds"]).sum()
    evals = history["eval_seconds"].sum()
    return {"run": what, "train_images": train_images, "test_images": test_images,
            "batch": batch, "epoch_s": total / epochs, "steps_s": steps / epochs,
            "eval_s": evals / epochs, "outside_fraction": 1 - (steps + evals) / total,
            "background_cpu": background}


def committed_report(path: Path = REPORT_README) -> dict[str, float]:
    """What the committed accuracy report's README says of its run: ``minutes`` (its wall
    time) and ``outside_fraction`` (its share outside the training steps and evaluations),
    where it says."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    found = {"minutes": re.search(r" in ([0-9.]+) minutes", text),
             "outside_fraction": re.search(
                 r"training steps and evaluations \(.*?\): ([0-9.]+)% of", text)}
    scale = {"minutes": 1.0, "outside_fraction": 0.01}
    return {key: float(m.group(1)) * scale[key] for key, m in found.items() if m}


def bench_infer(dtype: str, bias: str, seconds: float, quick: bool = False,
                images: int = INFER_IMAGES) -> dict[str, float | int | str]:
    """One ``infer`` row: time a prediction pass over ``images`` images, ``INFER_BATCH`` at
    a time."""
    net = seed_network("full", bias=bias, dtype=np.dtype(dtype), seed=0)
    model = to_torch(net)
    x, _ = random_batch(images, dtype, seed=1)
    fns = {"scratchnet": scratchnet_infer(net, x), "torch": torch_infer(model, x)}
    timings, background = time_interleaved(fns, seconds, min_rounds=2 if quick else 5,
                                           warmup_seconds=0.0)
    infer_flops = flops_per_image(net)[0]
    return _row("infer", dtype, bias, INFER_BATCH, images, infer_flops, timings, background)


def bench_bias(dtype: str, batch: int, seconds: float = BIAS_SECONDS, quick: bool = False
               ) -> dict[str, float | int | str]:
    """One row of the bias table: scratchnet's untied bias timed against its tied bias.

    Both networks are ``seed_network("full")`` with the same seed, trained on the same
    random batch; their training steps are timed against each other by
    :func:`~reports.timing.time_interleaved`, exactly as a ``train`` row times scratchnet
    against torch.

    Args:
        dtype: ``"float32"`` or ``"float64"``.
        batch: images per training step.
        seconds: timed seconds (the warm-up and the pauses come on top).
        quick: short warm-up and 2 rounds minimum instead of 5, for smoke runs.

    Returns:
        The row, with the columns of ``BIAS_COLUMNS``: ``tied_ms`` and ``untied_ms`` (median
        time per step), ``untied_over_tied`` (the median over rounds of the untied block's
        time per step over the tied block's: a round's two blocks run within a fraction of
        a second, so the host's slow drifts cancel), ``ratio_iqr`` (the interquartile
        range of those per-round ratios), ``blocks`` and ``background_cpu``.
    """
    x, labels = random_batch(batch, dtype)
    nets = {bias: seed_network("full", bias=bias, dtype=np.dtype(dtype), seed=0)
            for bias in ("tied", "untied")}
    fns = {bias: scratchnet_train_step(net, x, labels) for bias, net in nets.items()}
    timings, background = time_interleaved(fns, seconds, min_rounds=2 if quick else 5,
                                           warmup_seconds=0.1 if quick else 0.5)
    for bias, net in nets.items():
        _check_finite(net, f"the {bias} network")
    ratios = _round_ratios(timings["untied"], timings["tied"])
    return {
        "dtype": dtype, "batch": batch,
        "tied_ms": 1e3 * timings["tied"].seconds, "untied_ms": 1e3 * timings["untied"].seconds,
        "untied_over_tied": statistics.median(ratios), "ratio_iqr": _iqr(ratios),
        "blocks": min(timings["tied"].blocks, timings["untied"].blocks),
        "background_cpu": background,
    }


def bench_load(dtype: str, bias: str, seconds: float, quick: bool = False,
               batch: int = LOAD_BATCH) -> list[dict[str, float | int | str]]:
    """The under-load rows: the ``train`` and ``train_readme`` steps (and torch's) timed as
    :func:`bench_train` times them, first on the machine as it is, then again while a
    background process (``BUSY_LOOP``, started and killed here) keeps one core busy.

    Returns:
        One row per task, the columns of ``LOAD_COLUMNS``: ``quiet_ms`` and ``loaded_ms``
        (scratchnet's step without and with the busy core), ``loaded_over_quiet``,
        torch's two times, ``loaded_ratio`` (scratchnet's loaded step over torch's
        loaded step), ``background_cpu`` (others' load while the quiet rows were timed)
        and ``load_cpu`` (others' load, the busy loop's included, under load).
    """
    quiet = bench_train(dtype, bias, batch, seconds, quick, readme=True)
    busy = subprocess.Popen(BUSY_LOOP)
    try:
        loaded = bench_train(dtype, bias, batch, seconds, quick, readme=True)
    finally:
        busy.kill()
        busy.wait()
    return [{"task": q["task"], "dtype": dtype, "bias": bias, "batch": batch,
             "quiet_ms": q["scratchnet_ms"], "loaded_ms": b["scratchnet_ms"],
             "loaded_over_quiet": b["scratchnet_ms"] / q["scratchnet_ms"],
             "torch_quiet_ms": q["torch_ms"], "torch_loaded_ms": b["torch_ms"],
             "loaded_ratio": b["ratio"], "background_cpu": q["background_cpu"],
             "load_cpu": b["background_cpu"]}
            for q, b in zip(quiet, loaded, strict=True)]


def _fresh_process_call(fn: Callable[..., dict | list[dict]], *args: object
                        ) -> list[dict]:
    """In a fresh process: keep freed memory (as the parent does), then ``fn(*args)``'s
    rows."""
    keep_freed_memory()
    got = fn(*args)
    return got if isinstance(got, list) else [got]


def in_fresh_processes(fn: Callable[..., dict | list[dict]], args: tuple, processes: int,
                       median_of: str) -> list[dict]:
    """``fn(*args)``'s rows timed in ``processes`` fresh processes, one after another;
    for each row, the one whose ``median_of`` is the median over the processes (the lower
    median for an even count), so its columns stay those of one timing.

    The processes are forked from a server that has imported the heavy libraries
    (``FORK_PRELOAD``; multiprocessing's ``forkserver``): fresh (no allocation or timing
    history, no threads of an earlier row) and started in a fraction of a second. Each
    row gains ``process_ratios``, the processes' ``median_of`` values in order, and its
    ``background_cpu`` becomes the largest of the processes'.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(FORK_PRELOAD))
    runs = []
    for _ in range(processes):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            runs.append(pool.submit(_fresh_process_call, fn, *args).result())
    rows = []
    for timings in zip(*runs, strict=True):
        values = [row[median_of] for row in timings]
        chosen = dict(sorted(timings, key=lambda row: row[median_of])[(len(timings) - 1) // 2])
        chosen["background_cpu"] = max(row["background_cpu"] for row in timings)
        chosen["process_ratios"] = " ".join(f"{v:.3f}" for v in values)
        rows.append(chosen)
    return rows


def _check_finite(net: Sequential, whose: str) -> None:
    """Fail if timing ``net``'s training steps drove a weight to NaN or infinity (then the
    times would be those of NaN arithmetic, not of the network)."""
    for name, arr in net.named_params().items():
        if not np.isfinite(arr).all():
            raise FloatingPointError(f"{whose}'s {name} became non-finite while timing")


def _round_ratios(numerator: Timing, denominator: Timing) -> list[float]:
    """Round by round, ``numerator``'s time per call over ``denominator``'s (same rounds)."""
    return [a / b for a, b in zip(numerator.per_block, denominator.per_block, strict=True)]


def _iqr(values: Sequence[float]) -> float:
    """Interquartile range (third quartile - first); 0 for a single value."""
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q3 - q1


def _row(task: str, dtype: str, bias: str, batch: int, images_per_call: int,
         flops_per_img: int, timings: dict[str, Timing], background: float,
         ours: str = "scratchnet") -> dict[str, float | int | str]:
    """A speed row from ``timings``: scratchnet's under the key ``ours``, torch's under
    ``"torch"``."""
    s, t = timings[ours].seconds, timings["torch"].seconds
    # Per-round ratios: their spread shows how much the row's ratio can be trusted.
    pairs = _round_ratios(timings[ours], timings["torch"])
    return {
        "task": task, "dtype": dtype, "bias": bias, "batch": batch,
        "scratchnet_ms": 1e3 * s, "torch_ms": 1e3 * t,
        "scratchnet_img_s": images_per_call / s, "torch_img_s": images_per_call / t,
        "ratio": s / t, "ratio_iqr": _iqr(pairs),
        "scratchnet_gflops": flops_per_img * images_per_call / s / 1e9,
        "torch_gflops": flops_per_img * images_per_call / t / 1e9,
        "scratchnet_faults": timings[ours].faults_per_call,
        "torch_faults": timings["torch"].faults_per_call,
        "blocks": min(timings[ours].blocks, timings["torch"].blocks),
        "background_cpu": background,
    }


# --------------------------------------------------------------------------- output
def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    write_atomically(path, lambda f: f.write(text.encode("utf-8")))


def _fmt(value: float) -> str:
    """About three significant figures, without exponents."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _times(n: int) -> str:
    """``n`` times in words: ``"once"``, ``"twice"``, ``"3 times"``."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _markdown_table(df: pd.DataFrame, percent: Sequence[str] = ()) -> str:
    """``df`` as Markdown: floats to about 3 figures (``percent`` columns as %), numbers
    right-aligned."""
    shown = df.copy()
    for col in shown.columns:
        if col in percent:
            shown[col] = [f"{100 * v:.1f}%" for v in shown[col]]
        elif pd.api.types.is_float_dtype(shown[col]):
            shown[col] = [_fmt(v) for v in shown[col]]
    align = ["right" if pd.api.types.is_numeric_dtype(df[c]) else "left" for c in df.columns]
    return shown.to_markdown(index=False, disable_numparse=True, colalign=align)


def _bias_section(bias: pd.DataFrame | None) -> list[str]:
    """The lines of the report's untied-vs-tied section."""
    if bias is None or not len(bias):
        return ["Not measured in this run: it needs both `untied` and `tied` among the "
                f"biases (`--biases {','.join(BIAS_GRID)}`, the default of a full run)."]
    return [
        "The training step of the seed network with its untied convolution bias timed "
        "against the same network with a tied (per-channel) bias, in interleaved blocks "
        "like the speed rows. `untied_over_tied` is the median over rounds of the untied "
        "block's time over the tied block's next to it (above 1: the untied bias costs "
        "more); `ratio_iqr` is the interquartile range of those per-round ratios: the "
        "wider it is, the less the median can be trusted.",
        "",
        _markdown_table(bias),
    ]


def _processes(n: int) -> str:
    """``n`` processes in words: ``"one fresh process"``, ``"3 fresh processes"``."""
    return "one fresh process" if n == 1 else f"{n} fresh processes"


def _median_process(n: int) -> str:
    """Which process's row a table shows, in words."""
    return "that process's" if n == 1 else "the one of the process with the median ratio"


def _load_section(load: pd.DataFrame | None) -> list[str]:
    """The lines of the under-load section (none without a table)."""
    if load is None or not len(load):
        return []
    return [
        "## Under load: one core kept busy by another process",
        "",
        f"The batch-{LOAD_BATCH} training steps (`train` and `train_readme`) and PyTorch's, "
        "timed as the speed rows are, first on the machine as it is (`quiet_ms`, "
        "`torch_quiet_ms`), then while a process the benchmark starts and kills "
        f"(`{' '.join(BUSY_LOOP[1:])}`) keeps one of the cores busy (`loaded_ms`, "
        "`torch_loaded_ms`): a browser or a test suite beside the training. "
        "`loaded_over_quiet` = loaded_ms / quiet_ms; `loaded_ratio`: scratchnet's loaded "
        "step over PyTorch's (below 1: scratchnet is faster under the same load). "
        "`background_cpu`: others' load during the quiet timing; `load_cpu`: during the "
        "loaded one, the busy process included (about 1).",
        "",
        _markdown_table(load),
        "",
    ]


def _overhead_section(overhead: pd.DataFrame | None) -> list[str]:
    """The lines of the report-overhead section (none without a table)."""
    if overhead is None or not len(overhead):
        return []
    return [
        "## The accuracy report's time outside the training steps and evaluations",
        "",
        "`reference.lockstep.train_lockstep` as the accuracy report runs it (each experiment "
        "in a process with one thread, no pause between the two frameworks), for one epoch "
        f"on random images, the report's experiments scaled down to 1/{OVERHEAD_SCALE} of "
        "their size, training and test images in the same proportion. `epoch_s`: the "
        "epoch's wall time (both frameworks' steps, then evaluating the test set on both, "
        "comparing their weights); "
        "`steps_s`: the two frameworks' training steps in it; `eval_s`: their evaluations "
        "(the report's per-epoch figures need them); `outside_fraction` = 1 - "
        "(steps_s + eval_s) / epoch_s.",
        "",
        _markdown_table(overhead, percent=["outside_fraction"]),
        "",
    ]


def render_markdown(speed: pd.DataFrame, memory: pd.DataFrame, peaks: dict[str, float],
                    info: dict[str, str], command: str, quick: bool,
                    infer_images: int = INFER_IMAGES, bias: pd.DataFrame | None = None,
                    overhead: pd.DataFrame | None = None, load: pd.DataFrame | None = None,
                    processes: int = PROCESSES) -> str:
    """The report: header (machine, versions, threads, command), how to read, tables.

    ``bias`` is the table of :func:`bench_bias` (``None`` or empty: the run did not compare
    the two bias modes, and its section says so); ``overhead`` that of
    :func:`bench_report_overhead` and ``load`` that of :func:`bench_load` (``None``: no
    such section); ``processes``: how many processes each row was timed in.
    """
    net = seed_network("full")
    flops = flop_table(net)
    infer_flops, train_flops = flops_per_image(net)
    flops_shown = flops.reset_index()
    flops_shown.loc[len(flops_shown)] = ["total", *flops.sum().tolist()]
    lines = [
        "# scratchnet vs PyTorch: speed and memory",
        "",
        f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} by `{command}` "
        "(run from the repository root).",
        "",
        f"**CPU**: {cpu_line(info)}. The ratios depend on it: on an AMD EPYC "
        "with AVX2 only (Zen 3, 1 MiB of L2 per core) scratchnet's lead over PyTorch was a "
        "third smaller than with AVX-512 (issue 24).",
    ]
    if quick:
        lines += ["", "**Quick run**: few and short blocks; the numbers are rough."]
    lines += [
        "",
        "## Machine, libraries, threads",
        "",
        pd.DataFrame(list(info.items()), columns=["item", "value"]).to_markdown(index=False),
        "",
        "Thread settings are the defaults, recorded, not changed, except that scratchnet's "
        "network passes run NumPy's BLAS on one thread (`scratchnet/threads.py`, which says "
        "why); PyTorch runs with its defaults. The C allocator is told "
        "to keep the memory that is freed (`keep_freed_memory` in `reports/timing.py`): "
        "with glibc's defaults, PyTorch's times include page faults for memory handed back "
        "to the kernel and taken again, as many or as few as the process's allocation "
        "history makes them, so its time for one step moves by up to 2x between processes "
        "and between rows.",
        "",
        "## How to read",
        "",
        "- `train`: one training step (forward, loss, backward without the input images' "
        f"gradient, SGD with momentum {MOMENTUM}) on a batch of `batch` images; "
        "`train_readme`: the same step as the README writes it, "
        "`net.backward(loss.backward())`, which also "
        "computes the input images' gradient (PyTorch's step is the same in both, and a "
        "`train_readme` row is timed in the same rounds as the `train` row beside it, against "
        "the same torch blocks); `infer`: "
        f"predicting {infer_images:,} images in batches of "
        f"{INFER_BATCH} (scratchnet's `Sequential.predict`, which sends them through the "
        f"layers {infer_chunk(np.float32)} (float32) or {infer_chunk(np.float64)} (float64) "
        "at a time without recording anything for backward; torch's model under "
        "`torch.inference_mode()`). Random images, the full seed network, the same "
        "weights in both frameworks.",
        f"- Every row is timed in {_processes(processes)}, one after another; "
        f"the row shown is {_median_process(processes)} (its ratio; the bias "
        "table: its `untied_over_tied`; the under-load table: its `loaded_over_quiet`), "
        "and `process_ratios` lists that ratio in each process. `background_cpu` is the "
        "largest of the processes'.",
        "- `scratchnet_ms`, `torch_ms`: median time per step (per whole "
        f"{infer_images:,}-image pass for `infer`) over `blocks` interleaved blocks of about "
        f"{BLOCK_SECONDS * 1e3:g} ms each, with {PAUSE_SECONDS:g} s pauses between blocks so "
        "OpenBLAS's spinning thread does not slow torch down.",
        "- `ratio` = scratchnet_ms / torch_ms: **below 1 means scratchnet is faster**. Ratios "
        "from one process vary by 0.05-0.1 between processes (a float64 row by up to a "
        "third), absolute times 15-25% between runs (more on a busy host). `ratio_iqr`: "
        "interquartile range of the ratios of the individual rounds (one scratchnet block "
        "against the torch block next to it); a difference smaller than that between two "
        "rows is noise.",
        f"- `*_gflops`: achieved GFLOP/s, counting {infer_flops:,} FLOPs per image for "
        f"inference and {train_flops:,} per image for a training step (table below). "
        f"`peak_gflops`: NumPy's own {MATMUL_SIZE}x{MATMUL_SIZE} matmul in that dtype on this "
        "machine; `peak_fraction` = scratchnet_gflops / peak_gflops.",
        "- `scratchnet_faults`, `torch_faults`: page faults per step (per pass for `infer`) "
        "while that framework's blocks ran, counted for the whole process (`getrusage`'s "
        "minor faults): each is the kernel handing a page of memory to the allocator, time "
        "that is neither framework's arithmetic. About 0 means the row measures no such "
        "cost (see the allocator above).",
        "- `background_cpu`: cores other processes kept busy while this row was timed "
        "(0 on a quiet machine). Well above 0 means the row's times are suspect: OpenBLAS "
        "and OpenMP threads slow down badly when they must share the cores. (A full run "
        f"waits up to {QUIET_TIMEOUT:g} s for quiet before each row and redoes, at most "
        f"{_times(BUSY_RETRIES)}, a row timed with more than {BUSY_CORES:g} cores of "
        "background load, keeping the quietest attempt.)",
        "",
        "## Targets",
        "",
        "Each target of the speed work against the worst row of the tables below that it "
        "covers (ratios: scratchnet time / PyTorch time; `rows`: how many rows it covers). "
        "The untied bias's extra time is `untied_over_tied - 1` from the untied-vs-tied "
        "table, not the difference of two `train` rows. The accuracy report's minutes and "
        "its share of time outside the training steps and evaluations are what its "
        "committed run says "
        "(`reports/accuracy/README.md`), not measured by this run; the overhead table "
        "below shows that share per epoch of each kind of its experiments.",
        "",
        _markdown_table(target_table(speed, memory, bias, committed_report(), load)),
        "",
        "## Speed",
        "",
        _markdown_table(speed, percent=["peak_fraction"]),
        "",
        "## Untied vs tied bias (scratchnet against itself)",
        "",
        *_bias_section(bias),
        "",
        *_load_section(load),
        *_overhead_section(overhead),
        "## Work per image",
        "",
        "Multiply-adds (1 MAC = 2 FLOPs) per image, from the layer shapes: a Conv2D does "
        "`C_out*H_out*W_out * C_in*kh*kw`, a Dense `in*out`. The backward pass does the same "
        "work again for the weight gradient and for the input gradient, except that the first "
        "convolution needs no input gradient. Element-wise work (bias, ReLU, pooling, loss, "
        "SGD) is not counted.",
        "",
        flops_shown.to_markdown(index=False, intfmt=","),
        "",
        "## Matmul peak (NumPy)",
        "",
        _markdown_table(pd.DataFrame({"dtype": list(peaks), "gflops": list(peaks.values())})),
        "",
        f"## Memory of one scratchnet training step (batch {MEMORY_BATCH})",
        "",
        "`traced_peak_mb`: the highest memory NumPy had allocated (`tracemalloc`, from "
        "building the network on) during one step after warm-up; `between_steps_mb`: what "
        "stayed allocated before it. `needed_mb` = `activations_mb` (every layer's output and "
        "input-gradient array for the batch, from the shapes) + `state_mb` (parameters, "
        "gradients, momentum buffers). The excess is what the implementation keeps besides "
        "(what the layers cache for the backward pass, e.g. pooling winners and the "
        f"convolutions' input matrices, and temporaries). MB = {MB:,.0f} bytes.",
        "",
        _markdown_table(memory),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main
def _speed_summary(row: dict) -> str:
    """A speed row in a progress line."""
    return (f"scratchnet {row['scratchnet_ms']:.3f} ms, torch {row['torch_ms']:.3f} ms, "
            f"ratio {row['ratio']:.2f}")


def _overhead_summary(row: dict) -> str:
    """An overhead row in a progress line."""
    return (f"epoch {row['epoch_s']:.2f} s, steps {row['steps_s']:.2f} s, outside "
            f"{row['outside_fraction']:.1%}")


def _load_summary(row: dict) -> str:
    """An under-load row in a progress line."""
    return (f"quiet {row['quiet_ms']:.3f} ms, loaded {row['loaded_ms']:.3f} ms "
            f"({row['loaded_over_quiet']:.2f}x), torch loaded {row['torch_loaded_ms']:.3f} ms, "
            f"ratio {row['loaded_ratio']:.2f}")


def _bias_summary(row: dict) -> str:
    """A bias row in a progress line."""
    return (f"tied {row['tied_ms']:.3f} ms, untied {row['untied_ms']:.3f} ms, untied/tied "
            f"{row['untied_over_tied']:.3f} (IQR {row['ratio_iqr']:.3f})")


def check_outputs(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and check its output files (``OUTPUTS``) can be written (before
    timing).

    Raises:
        OSError: naming the path that cannot be written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(out))
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        check_writable(out / name)
    return out


def run_benchmark(
    out_dir: str | Path = SPEED_DIR,
    quick: bool = False,
    batches: Sequence[int] = BATCHES,
    dtypes: Sequence[str] = DTYPES,
    biases: Sequence[str] = BIAS_GRID,
    seconds_per_config: float | None = None,
    infer_images: int = INFER_IMAGES,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
    processes: int | None = None,
) -> pd.DataFrame:
    """Run every configuration, write ``bench.csv``, ``bias.csv``, ``memory.csv``,
    ``overhead.csv``, ``bench.md``.

    Args:
        out_dir: folder for the outputs (created if needed).
        quick: short warm-up, 2 rounds minimum, 2 matmul repeats, no waiting for other
            processes to go quiet: a smoke run. (Otherwise each row first waits up to
            ``QUIET_TIMEOUT`` seconds for the machine to be quiet, see
            :func:`wait_for_quiet`, and is timed again, at most ``BUSY_RETRIES`` times, if
            other processes used more than ``BUSY_CORES`` cores meanwhile; the row with the
            least background load is kept.)
        batches, dtypes, biases: the training grid. The README's path (``train_readme``)
            and inference run for every dtype (and batch) with the first bias mode only
            (the seed's ``"untied"`` by default). When ``biases``
            holds both ``"untied"`` and ``"tied"``, the untied bias is also timed against
            the tied one for every dtype and batch (:func:`bench_bias`); otherwise
            ``bias.csv`` holds only its header.
        seconds_per_config: timed seconds per row (``ROW_SECONDS``, or ``QUICK_SECONDS``
            with ``quick``; the untied-vs-tied rows default to ``BIAS_SECONDS``).
        infer_images: images per inference pass (``INFER_IMAGES``, the test set's size).
        command: the command line written in the report (default: rebuilt from arguments).
        log: called with a progress line per row (e.g. ``print``).
        processes: fresh processes each row is timed in (:func:`in_fresh_processes`;
            default ``PROCESSES``, 1 with ``quick``). The report-overhead rows run here.

    Returns:
        The speed table (columns ``SPEED_COLUMNS``); the memory table is in
        ``.attrs["memory"]``, the untied-vs-tied table (``BIAS_COLUMNS``) in
        ``.attrs["bias"]``, the under-load table (``LOAD_COLUMNS``) in ``.attrs["load"]``,
        the report-overhead table (``OVERHEAD_COLUMNS``) in ``.attrs["overhead"]``, the
        matmul peaks in ``.attrs["peaks"]``.
    """
    if seconds_per_config is not None:
        seconds = bias_seconds = seconds_per_config
    else:
        seconds, bias_seconds = ((QUICK_SECONDS, QUICK_SECONDS) if quick
                                 else (ROW_SECONDS, BIAS_SECONDS))
    say = log or (lambda _msg: None)
    if processes is None:
        processes = 1 if quick else PROCESSES
    out = check_outputs(out_dir)
    allocator = (ALLOCATOR_KEPT if keep_freed_memory()
                 else "the C library's default (it has no glibc mallopt)")
    info = {**description(), "memory allocator": allocator,
            "load average at start (1 min)": f"{os.getloadavg()[0]:.2f}"}

    peaks = {d: matmul_peak_gflops(d, repeats=2 if quick else 5) for d in dtypes}
    say("matmul peak: " + ", ".join(f"{d} {g:.0f} GFLOP/s" for d, g in peaks.items()))

    def measure(label: str | Callable[[dict], str], fn: Callable, args: tuple,
                kind: str = "speed", describe: Callable[[dict], str] = _speed_summary,
                fresh: bool = True) -> list[dict]:
        """Time one row (or the rows one timing gives; ``label`` then names each from it),
        ``fn(*args)``, in ``processes`` fresh processes (``fresh``; else here); in a full
        run, redo it (``BUSY_RETRIES`` times at most) if others used the CPU."""
        best = None
        for attempt in range(1 if quick else 1 + BUSY_RETRIES):
            wait_for_quiet(0.0 if quick else QUIET_TIMEOUT)
            if fresh:
                got = in_fresh_processes(fn, args, processes, MEDIAN_OF[kind])
            else:
                got = fn(*args)
                got = got if isinstance(got, list) else [got]
            background = got[0]["background_cpu"]
            if best is None or background < best[0]["background_cpu"]:
                best = got
            retry = f" (retry {attempt})" if attempt else ""
            for row in got:
                name = label(row) if callable(label) else label
                say(f"{name}: {describe(row)}, background {background:.2f} cores{retry}")
            if best[0]["background_cpu"] < BUSY_CORES:
                break
        return best

    rows = []
    for dtype in dtypes:
        readme_rows = []
        for bias in biases:
            for batch in batches:
                train, *readme = measure(
                    lambda row: f"{row['task']} {row['dtype']} {row['bias']} batch {row['batch']}",
                    bench_train, (dtype, bias, batch, seconds, quick, bias == biases[0]))
                rows.append(train)
                readme_rows += readme
        rows += readme_rows
    bias_rows = []
    if {"untied", "tied"} <= set(biases):
        for dtype in dtypes:
            for batch in batches:
                bias_rows.extend(measure(f"untied vs tied {dtype} batch {batch}", bench_bias,
                                         (dtype, batch, bias_seconds, quick), kind="bias",
                                         describe=_bias_summary))
    for dtype in dtypes:
        rows.extend(measure(f"infer {dtype}", bench_infer,
                            (dtype, biases[0], seconds, quick, infer_images)))
    load_rows = []
    for dtype in dtypes:
        load_rows.extend(measure(
            lambda row: f"under load: {row['task']} {row['dtype']} batch {row['batch']}",
            bench_load, (dtype, biases[0], seconds, quick), kind="load",
            describe=_load_summary))
    overhead_rows = []
    for what, train_images, test_images, batch in OVERHEAD_RUNS:
        scale = QUICK_SCALE if quick else 1
        overhead_rows.extend(measure(
            f"report overhead, {what}", bench_report_overhead,
            (what, train_images // scale, test_images // scale, batch),
            describe=_overhead_summary, fresh=False))
    overhead = pd.DataFrame(overhead_rows, columns=OVERHEAD_COLUMNS)
    speed = pd.DataFrame(rows)
    speed["peak_gflops"] = speed["dtype"].map(peaks)
    speed["peak_fraction"] = speed["scratchnet_gflops"] / speed["peak_gflops"]
    speed = speed[SPEED_COLUMNS]
    bias_table = pd.DataFrame(bias_rows, columns=BIAS_COLUMNS)
    load = pd.DataFrame(load_rows, columns=LOAD_COLUMNS)

    memory = pd.DataFrame([measure_train_memory(d, biases[0]) for d in dtypes])[MEMORY_COLUMNS]
    say("memory: " + ", ".join(f"{r.dtype} peak {r.traced_peak_mb:.1f} MB vs needed "
                               f"{r.needed_mb:.1f} MB" for r in memory.itertuples()))
    info["load average at end (1 min)"] = f"{os.getloadavg()[0]:.2f}"

    if command is None:
        command = f"python -m reports.bench --out {out_dir}" + (" --quick" if quick else "")
        if seconds_per_config is not None:
            command += f" --seconds {seconds_per_config:g}"
        if infer_images != INFER_IMAGES:
            command += f" --images {infer_images}"
        if processes != (1 if quick else PROCESSES):
            command += f" --processes {processes}"
    _write_atomic(out / "bench.csv", speed.to_csv(index=False))
    _write_atomic(out / "bias.csv", bias_table.to_csv(index=False))
    _write_atomic(out / "load.csv", load.to_csv(index=False))
    _write_atomic(out / "memory.csv", memory.to_csv(index=False))
    _write_atomic(out / "overhead.csv", overhead.to_csv(index=False))
    _write_atomic(out / "bench.md", render_markdown(speed, memory, peaks, info, command, quick,
                                                    infer_images, bias_table, overhead, load,
                                                    processes))
    speed.attrs["memory"], speed.attrs["bias"] = memory, bias_table
    speed.attrs["load"] = load
    speed.attrs["overhead"] = overhead
    speed.attrs["peaks"] = peaks
    return speed


DESCRIPTION = ("Time scratchnet against its PyTorch twin (train steps, inference) and measure "
               f"a training step's memory; writes {', '.join(OUTPUTS)}.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options (``scratchnet bench``, ``python -m reports.bench``)."""
    grid = {key: ",".join(map(str, values)) for key, values in QUICK_GRID.items()}
    smoke_arguments(parser, SPEED_DIR, f"a smoke run in seconds: batch {grid['batches']}, "
                                       f"{grid['dtypes']}, {grid['biases']}, short blocks")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help=f"timed seconds per configuration (default {ROW_SECONDS:g}, "
                             f"untied-vs-tied rows {BIAS_SECONDS:g}; {QUICK_SECONDS:g} with "
                             "--quick)")
    parser.add_argument("--processes", type=positive_int, default=None,
                        help=f"fresh processes each row is timed in, the median shown "
                             f"(default {PROCESSES}; 1 with --quick)")
    parser.add_argument("--images", type=positive_int, default=INFER_IMAGES,
                        help=f"images per inference pass (default {INFER_IMAGES})")
    parser.add_argument("--batches", type=positive_ints, default=None,
                        help=f"e.g. {','.join(map(str, BATCHES))}")
    parser.add_argument("--dtypes", type=words_from(DTYPES), default=None,
                        help=f"e.g. {','.join(DTYPES)}")
    parser.add_argument("--biases", type=words_from(TIMED_BIASES), default=None,
                        help=f"e.g. {','.join(BIAS_GRID)}")
    parser.add_argument("--isa", choices=ISAS, default="native",
                        help="the vector code NumPy, OpenBLAS and PyTorch run: the CPU's "
                             "widest (native, the default) or, on a CPU with AVX-512, the "
                             "code of one with AVX2 only (avx2; the bench restarts itself "
                             "with reports.machine.AVX2_CODE set; default --out "
                             f"{AVX2_SPEED_DIR})")


def build_parser(prog: str = "python -m reports.bench") -> argparse.ArgumentParser:
    """The benchmark's own parser (``python -m reports.bench``): :func:`add_arguments`, the
    options of ``scratchnet bench``."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def run_from_args(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """Check the output directory, run the benchmark the options ``args`` ask for (given
    as ``argv``, which the report quotes) and print its speed table.

    With ``--isa avx2``, a process not yet under ``AVX2_CODE`` starts the benchmark again
    under it, in its place (``os.execve``): the libraries choose their code when they are
    loaded, and they are loaded by now."""
    if args.isa == "avx2" and not limited_to_avx2():
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", "reports.bench", *argv],
                  {**os.environ, **AVX2_CODE})
    name = "speed" if args.isa == "native" else "speed-avx2"
    for committed in (SPEED_DIR, AVX2_SPEED_DIR):    # a smoke run replaces neither
        output_dir(args.out, args.quick, committed, name)
    out = output_dir(args.out, args.quick, AVX2_SPEED_DIR if args.isa == "avx2" else SPEED_DIR,
                     name)
    try:
        check_outputs(out)
    except OSError as err:
        raise output_error("--out", out, err) from None
    if args.quick:
        print(f"smoke run (--quick): writing to {out}", file=sys.stderr)
    grid = dict(QUICK_GRID) if args.quick else {}
    for key in ("batches", "dtypes", "biases"):
        if getattr(args, key) is not None:
            grid[key] = getattr(args, key)
    speed = run_benchmark(
        out_dir=out, quick=args.quick, seconds_per_config=args.seconds,
        infer_images=args.images, processes=args.processes,
        command=shlex.join(["python", "-m", "reports.bench", *argv]),
        log=lambda msg: print(msg, file=sys.stderr, flush=True), **grid,
    )
    print(_markdown_table(speed, percent=["peak_fraction"]))
    print(f"\nwrote {out / 'bench.md'}, {', '.join(n for n in OUTPUTS if n != 'bench.md')}")


def main(argv: Sequence[str] | None = None, prog: str = "python -m reports.bench") -> int:
    """Command line: ``python -m reports.bench [--quick] [--out DIR] [--seconds S] ...``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    run_from_args(build_parser(prog).parse_args(argv), argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
