"""The accuracy report: scratchnet and its PyTorch twin trained side by side on real data.

Each experiment builds a scratchnet network, trains it and its twin in lockstep
(:func:`reference.lockstep.train_lockstep`: same initial weights, same batches, same
optimizer) and writes, under the output directory:

* ``<name>.csv``: the per-epoch curves of both frameworks, the weight gap between them and
  how often they predict alike;
* ``<name>.png``: accuracy and loss curves, scratchnet (solid) over PyTorch (dashed);
* ``README.md``: the report, a summary table and one section per experiment, with the
  settings, seeds, versions and machine, and the command that reproduces it.

Experiments of another kind are *studies* (:class:`Study`, listed in ``STUDIES``): each
writes its own files and gives its README section, read back from them. The README
always shows every experiment and study finished in the output directory, also those a
run with ``--only`` did not rerun.

Run it with ``make report`` (or ``scratchnet report``); ``--quick`` makes a small run for
CI's smoke test, which writes to the user cache (``reports.usage.smoke_dir``) and never
over a full report. Every output path is checked before training starts, every file is
written atomically, and ``--resume`` skips experiments whose CSV already holds a finished
run with the same settings (an interrupted report picks up where it stopped).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import io
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from reference.lockstep import train_lockstep
from reports import relu_boundary
from reports.machine import environment, header_line
from reports.usage import (
    UsageError,
    data_arguments,
    output_dir,
    output_error,
    progress_argument,
    smoke_arguments,
)
from reports.workers import start_jobs
from scratchnet.atomic import check_writable, write_atomically
from scratchnet.data import as_float, load_dataset
from scratchnet.network import seed_network
from scratchnet.train import TrainConfig

DEFAULT_OUT = Path(__file__).parent / "accuracy"
#: A --quick smoke run's experiments: training images of each class, test images, epochs.
QUICK_PER_CLASS, QUICK_TEST_SIZE, QUICK_EPOCHS = 20, 1000, 2
QUICK_NOTE = f"a --quick smoke run: small data, {QUICK_EPOCHS} epochs"  # in such a README
#: Experiments trained at the same time, each in its own single-threaded process
#: (``reports/workers.py``); 1: one after the other in this process, with default threads.
REPORT_WORKERS = 2


@dataclass(frozen=True)
class Experiment:
    """One lockstep training run of the report."""

    name: str                   # file stem of its CSV and PNG
    title: str
    dataset: str                # "mnist" or "fashion-mnist"
    variant: str                # seed_network variant: "full", "shallow", "full-bn-dropout"
    bias: str                   # the convolutions' bias: "untied" (the seed's) or "tied"
    per_class: int | None       # training images per class (first ones in file order); None: all
    config: TrainConfig
    dtype: str = "float64"
    test_size: int | None = None  # None: the whole test set
    expected: str = ""          # what the seed or the issue measured, for comparison

    def settings(self) -> dict:
        """Everything that decides the run's result, as JSON-ready values."""
        out = dataclasses.asdict(self)
        out["config"] = self.config.to_dict()
        return out


SEED_SGD = TrainConfig(epochs=50, batch_size=1, lr=0.01, seed=0)
FULL_SGD = TrainConfig(epochs=15, batch_size=64, lr=0.01, momentum=0.9, seed=0)

EXPERIMENTS = (
    Experiment("seed-shallow-1k", "The seed's own experiment: the shallow network, 1,000 images",
               "mnist", "shallow", "untied", 100, SEED_SGD,
               expected="seed report: 0.686; PyTorch, torch default init: about 0.92"),
    Experiment("seed-full-1k", "The full seed network on the same 1,000 images",
               "mnist", "full", "untied", 100, SEED_SGD,
               expected="PyTorch, same settings: about 0.94"),
    Experiment("full-mnist-untied", "The full seed network on all 60,000 images (untied bias)",
               "mnist", "full", "untied", None, FULL_SGD,
               expected="target >= 0.985; PyTorch measured: 0.986"),
    Experiment("full-mnist-bn-dropout", "The full seed network with batch norm and dropout, "
               "all 60,000 images", "mnist", "full-bn-dropout", "untied", None, FULL_SGD,
               expected="the same network without them (full-mnist-untied): 0.9873"),
    Experiment("full-mnist-tied", "The full seed network on all 60,000 images (tied bias)",
               "mnist", "full", "tied", None, FULL_SGD,
               expected="target >= 0.985; PyTorch measured: 0.988"),
    Experiment("full-fashion-untied", "The full seed network on Fashion-MNIST (untied bias)",
               "fashion-mnist", "full", "untied", None, FULL_SGD),
    Experiment("float32-drift", "Float32: how far the two frameworks drift apart",
               "mnist", "full", "untied", None, dataclasses.replace(FULL_SGD, epochs=3),
               dtype="float32"),
)


@dataclass(frozen=True)
class Study:
    """An experiment of the report that is not a lockstep run on MNIST-like data.

    ``run(out_dir, command)`` writes its files into ``out_dir``; ``finished(out_dir)``
    says whether they are there, made with its current settings; ``section(out_dir)``
    gives its section of the README (Markdown lines), read back from those files.
    """

    name: str
    title: str
    run: Callable[[Path, str], object]
    finished: Callable[[Path], bool]
    section: Callable[[Path], list[str]]


STUDIES = (
    Study(relu_boundary.NAME, relu_boundary.TITLE, relu_boundary.run, relu_boundary.finished,
          relu_boundary.section),
)


def quick(experiment: Experiment) -> Experiment:
    """A small version of ``experiment`` for smoke tests: ``QUICK_PER_CLASS`` images a
    class, ``QUICK_TEST_SIZE`` test images, ``QUICK_EPOCHS`` epochs."""
    config = dataclasses.replace(experiment.config, epochs=QUICK_EPOCHS,
                                 batch_size=min(experiment.config.batch_size, 16))
    return dataclasses.replace(experiment, per_class=QUICK_PER_CLASS,
                               test_size=QUICK_TEST_SIZE, config=config)


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of every class, in file order."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def run_experiment(experiment: Experiment, dataset, progress: bool = True,
                   pause: float = 0.12) -> pd.DataFrame:
    """Train scratchnet and its twin as ``experiment`` says; the lockstep history.

    ``pause``: seconds between the two frameworks' epochs (``train_lockstep``)."""
    dtype = np.dtype(experiment.dtype)
    train_idx = (np.arange(len(dataset.train_labels)) if experiment.per_class is None
                 else first_per_class(dataset.train_labels, experiment.per_class))
    test_idx = np.arange(len(dataset.test_labels))[: experiment.test_size]
    train_x = as_float(dataset.train_images[train_idx], dtype)
    test_x = as_float(dataset.test_images[test_idx], dtype)
    net = seed_network(experiment.variant, bias=experiment.bias, dtype=dtype, seed=0)
    return train_lockstep(net, train_x, dataset.train_labels[train_idx], test_x,
                          dataset.test_labels[test_idx], experiment.config, progress=progress,
                          pause=pause)


def run_in_worker(name: str, quick_run: bool, data_dir: str | None, download: bool) -> str:
    """Experiment ``name`` (its quick version with ``quick_run``) in a worker process of
    ``reports/workers.py``; its history as CSV text. One thread runs, so no BLAS thread
    spins after a call and the two frameworks need no pause between their epochs."""
    experiment = next(e for e in EXPERIMENTS if e.name == name)
    experiment = quick(experiment) if quick_run else experiment
    dataset = load_dataset(experiment.dataset, data_dir, download)
    return run_experiment(experiment, dataset, progress=False, pause=0.0).to_csv(index=False)


# ---------------------------------------------------------------------------- outputs


def plot_curves(history: pd.DataFrame, title: str, path: Path) -> None:
    """Accuracy and loss per epoch, scratchnet solid and PyTorch dashed, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for framework, style in (("scratchnet", "-"), ("torch", "--")):
        label = "PyTorch" if framework == "torch" else "scratchnet"
        for split, color in (("train", "tab:blue"), ("test", "tab:orange")):
            ax_acc.plot(history["epoch"], history[f"{framework}_{split}_acc"], style,
                        color=color, label=f"{label} {split}")
            ax_loss.plot(history["epoch"], history[f"{framework}_{split}_loss"], style,
                         color=color, label=f"{label} {split}")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_loss.set(xlabel="epoch", ylabel="mean cross-entropy", title="loss", yscale="log")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    write_atomically(path, lambda f: fig.savefig(f, format="png", dpi=90))
    plt.close(fig)


def epoch_table(history: pd.DataFrame) -> str:
    """The per-epoch table of the report (every 5th epoch and the last when there are many)."""
    rows = history
    if len(history) > 20:
        keep = (history["epoch"] % 5 == 0) | (history["epoch"] == 1) | (
            history["epoch"] == history["epoch"].max())
        rows = history[keep]
    table = pd.DataFrame({
        "epoch": rows["epoch"],
        "scratchnet train loss": rows["scratchnet_train_loss"].map("{:.4f}".format),
        "scratchnet train acc": rows["scratchnet_train_acc"].map("{:.4f}".format),
        "scratchnet test loss": rows["scratchnet_test_loss"].map("{:.4f}".format),
        "scratchnet test acc": rows["scratchnet_test_acc"].map("{:.4f}".format),
        "PyTorch train loss": rows["torch_train_loss"].map("{:.4f}".format),
        "PyTorch train acc": rows["torch_train_acc"].map("{:.4f}".format),
        "PyTorch test loss": rows["torch_test_loss"].map("{:.4f}".format),
        "PyTorch test acc": rows["torch_test_acc"].map("{:.4f}".format),
        "param gap": rows["param_gap"].map("{:.1e}".format),
        **({"buffer gap": rows["buffer_gap"].map("{:.1e}".format)}
           if "buffer_gap" in rows else {}),
        "same predictions": rows["prediction_agreement"].map("{:.4f}".format),
        "scratchnet s": rows["scratchnet_seconds"].map("{:.2f}".format),
        "PyTorch s": rows["torch_seconds"].map("{:.2f}".format),
    })
    return table.to_markdown(index=False)


def summary_row(experiment: Experiment, history: pd.DataFrame) -> dict:
    last = history.iloc[-1]
    return {
        "experiment": f"[{experiment.name}](#{experiment.name})",
        "data": experiment.dataset,
        "network": f"{experiment.variant}, {experiment.bias} bias, {experiment.dtype}",
        "train images": "all 60,000" if experiment.per_class is None
        else f"{10 * experiment.per_class:,}",
        "epochs": int(last["epoch"]),
        "scratchnet test acc": f"{last['scratchnet_test_acc']:.4f}",
        "PyTorch test acc": f"{last['torch_test_acc']:.4f}",
        "largest param gap": f"{history['param_gap'].max():.1e}",
        "largest buffer gap": f"{history['buffer_gap'].max():.1e}" if "buffer_gap" in history
        else "",
        "same predictions (last epoch)": f"{last['prediction_agreement']:.4f}",
        "s/epoch scratchnet / PyTorch": f"{history['scratchnet_seconds'].median():.2f} / "
        f"{history['torch_seconds'].median():.2f}",
        "for comparison": experiment.expected,
    }


def write_report(
    results: list[tuple[Experiment, pd.DataFrame]], out_dir: Path, command: str,
    seconds: float, quick_run: bool, env: dict[str, str] | None = None, workers: int = 1,
    studies: Sequence[Study] = (), earlier: Sequence[str] = (),
) -> Path:
    """Write ``README.md``: the summary table and a section per experiment and study.

    ``env``: the header's versions, machine and commit (default: as they are now); a run
    passes those of its start, so the commit named is the code that ran. ``workers``: how
    many experiments ran at a time (each then in its own single-threaded process).
    ``studies``: those whose files are in ``out_dir``. ``earlier``: the names of the
    experiments and studies shown that this run did not make (their files are from an
    earlier run).
    """
    env = environment() if env is None else env
    summary = (pd.DataFrame([summary_row(e, h) for e, h in results]).to_markdown(index=False)
               if results else "No lockstep experiment has finished here yet.")
    lines = [
        "# Accuracy report: scratchnet and PyTorch, trained side by side",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d} in "
        f"{seconds / 60:.1f} minutes" + (f" ({QUICK_NOTE})." if quick_run else "."),
        header_line(env, "1 per experiment" if workers > 1 else None)
        + (" Not rerun by it (results of an earlier run, read back from their files): "
           f"{', '.join(earlier)}." if earlier else ""),
        "",
        "Each experiment starts scratchnet and its PyTorch twin (`reference.to_torch`) from "
        "the same weights (`seed_network(..., seed=0)`, PyTorch's default initialization), "
        "trains both with the same optimizer on the same batches (shuffle seed 0; "
        "`reference/lockstep.py`), and evaluates both on the test set after every epoch. "
        "*param gap* is the largest absolute difference between any weight of the two "
        "networks; *same predictions* the fraction of test images both classify alike. "
        "Both train in training mode and are evaluated in eval mode. In a network with "
        "dropout, scratchnet draws each step's masks and the twin applies the very same "
        "ones; in one with batch norm, *buffer gap* is the largest absolute difference "
        "between their running statistics. "
        "Times are wall seconds of each framework's training steps per epoch; within an "
        "experiment the two run one after the other, never at the same time"
        + (f". {workers} experiments ran at a time, each in its own process with one "
           "thread for NumPy's BLAS and one for PyTorch (one experiment per core), so these "
           "are single-thread times." if workers > 1 else
           ", with a pause between (so OpenBLAS's spinning threads do not slow PyTorch)."),
        *_overhead_line(results),
        "",
        "## Summary",
        "",
        summary,
        "",
        *(["Also: " + "; ".join(f"[{study.title}](#{study.name})" for study in studies)
           + ".", ""] if studies else []),
    ]
    for experiment, history in results:
        c = experiment.config
        train_desc = ("all 60,000 training images" if experiment.per_class is None else
                      f"{10 * experiment.per_class:,} training images (the first "
                      f"{experiment.per_class} of each class)")
        test_desc = ("the 10,000 test images" if experiment.test_size is None
                     else f"the first {experiment.test_size:,} test images")
        lines += [
            f'<a id="{experiment.name}"></a>',
            f"## {experiment.title}",
            "",
            f"`seed_network(\"{experiment.variant}\", bias=\"{experiment.bias}\", "
            f"dtype=np.{experiment.dtype}, seed=0)` on {experiment.dataset}: {train_desc}, "
            f"tested on {test_desc}. {c.optimizer.upper()} lr {c.lr}"
            + (f", momentum {c.momentum}" if c.momentum else "")
            + f", batch {c.batch_size}, {c.epochs} epochs, shuffle seed {c.seed}."
            + (f" For comparison: {experiment.expected}." if experiment.expected else ""),
            "",
            f"![accuracy and loss curves]({experiment.name}.png)",
            "",
            epoch_table(history),
            "",
            f"All epochs: [{experiment.name}.csv]({experiment.name}.csv).",
            "",
        ]
    for study in studies:
        lines += study.section(out_dir)
    lines += [
        "## Reproduce",
        "",
        f"This README: `{command}`. Every experiment: `scratchnet report` (what `make report` "
        "runs); some: `scratchnet report --only NAME ...`. The data is looked up as the "
        "project's README says; `--data-dir DIR` names it.",
        "Training is deterministic: the accuracies and losses above come out the same on a "
        "rerun; the times do not.",
        "",
    ]
    path = out_dir / "README.md"
    write_atomically(path, lambda f: f.write("\n".join(lines).encode()))
    return path


def _overhead_line(results: list[tuple[Experiment, pd.DataFrame]]) -> list[str]:
    """The share of the experiments' time spent outside the two frameworks' training steps
    and their evaluations on the test set (which the per-epoch figures need): comparing,
    batching, bookkeeping; from the histories' ``epoch_seconds`` and ``eval_seconds``."""
    histories = [h for _, h in results if {"epoch_seconds", "eval_seconds"} <= set(h)]
    if not histories:
        return []
    total = sum(h["epoch_seconds"].sum() for h in histories)
    steps = sum((h["scratchnet_seconds"] + h["torch_seconds"]).sum() for h in histories)
    evals = sum(h["eval_seconds"].sum() for h in histories)
    return ["", f"Outside the two frameworks' training steps and evaluations (comparing, "
                f"batching): {1 - (steps + evals) / total:.1%} of the experiments' time "
                f"(the evaluations: {evals / total:.1%})."]


def _finished(out_dir: Path, experiment: Experiment) -> pd.DataFrame | None:
    """A finished run's history from ``out_dir``, if it was made with the same settings."""
    csv, meta = out_dir / f"{experiment.name}.csv", out_dir / f"{experiment.name}.json"
    if not (csv.exists() and meta.exists()):
        return None
    if json.loads(meta.read_text()) != experiment.settings():
        return None
    history = pd.read_csv(csv)
    return history if len(history) == experiment.config.epochs else None


def run_report(
    out_dir: Path = DEFAULT_OUT,
    *,
    quick_run: bool = False,
    only: Sequence[str] | None = None,
    data_dir: str | None = None,
    download: bool = True,
    resume: bool = False,
    progress: bool = True,
    command: str = "make report",
    workers: int = REPORT_WORKERS,
) -> list[tuple[Experiment, pd.DataFrame]]:
    """Run the report's experiments and studies; write their files and the Markdown report.

    Every dataset is loaded, and every output path checked (:func:`prepare_outputs`),
    before the first experiment starts. ``workers`` > 1 trains that many experiments at a
    time, each in a single-threaded process (:func:`run_in_worker`; progress bars are then
    off), the largest first (:func:`expected_work`), then the studies; each experiment's
    files and plot are written as its worker finishes it. Returns the lockstep experiments
    run (or resumed) and their histories, in the order of ``EXPERIMENTS``.
    """
    every = select_experiments(None, quick_run)
    experiments = select_experiments(only, quick_run)
    studies = [s for s in STUDIES if not only or s.name in only]
    out_dir = Path(out_dir)
    prepare_outputs(out_dir, experiments, quick_run)

    start, results, env = time.perf_counter(), [], environment()
    todo = [e for e in experiments if not (resume and _finished(out_dir, e) is not None)]
    # Load every dataset first: a missing one fails now, not after an hour of training.
    datasets = {name: load_dataset(name, data_dir, download)
                for name in dict.fromkeys(e.dataset for e in todo)}
    pool, running = None, {}
    if workers > 1 and todo:
        work = expected_work(out_dir, todo)
        largest_first = sorted(todo, key=lambda e: -work[e.name])
        pool, futures = start_jobs(run_in_worker, [(e.name, quick_run, data_dir, download)
                                                   for e in largest_first], workers)
        running = {e.name: f for e, f in zip(largest_first, futures, strict=True)}
        # The studies go to the worker that is free first, after the experiments.
        running.update({study.name: pool.submit(study.run, out_dir, command)
                        for study in studies if not (resume and study.finished(out_dir))})
        print(f"[report] {len(running)} jobs on {workers} workers, largest first: "
              f"{', '.join(running)}", file=sys.stderr)
    for experiment in finishing_order(experiments, running):
        history = _finished(out_dir, experiment) if resume else None
        if history is None:
            print(f"[{experiment.name}] {experiment.title}", file=sys.stderr)
            if pool is not None:
                history = pd.read_csv(io.StringIO(running[experiment.name].result()))
            else:
                history = run_experiment(experiment, datasets[experiment.dataset], progress)
            write_atomically(out_dir / f"{experiment.name}.csv",
                             lambda f, h=history: h.to_csv(f, index=False))
            write_atomically(out_dir / f"{experiment.name}.json",
                             lambda f, e=experiment: f.write(json.dumps(e.settings()).encode()))
        plot_curves(history, experiment.title, out_dir / f"{experiment.name}.png")
        results.append((experiment, history))
        last = history.iloc[-1]
        print(f"[{experiment.name}] test accuracy: scratchnet {last['scratchnet_test_acc']:.4f}, "
              f"PyTorch {last['torch_test_acc']:.4f}; param gap "
              f"{history['param_gap'].max():.1e}", file=sys.stderr)
    results.sort(key=lambda result: experiments.index(result[0]))
    for study in studies:
        if not (resume and study.finished(out_dir)):
            print(f"[{study.name}] {study.title}", file=sys.stderr)
            if study.name in running:
                running[study.name].result()
            else:
                study.run(out_dir, command)
    if pool is not None:
        pool.shutdown()
    shown, shown_studies, earlier = _shown(results, every, studies, out_dir)
    write_report(shown, out_dir, command, time.perf_counter() - start, quick_run, env,
                 workers if pool is not None else 1, studies=shown_studies, earlier=earlier)
    return results


def finishing_order(experiments: Sequence[Experiment], running: dict[str, Future]
                    ) -> Iterator[Experiment]:
    """``experiments`` in the order their results can be written and plotted: those no
    worker runs first (finished earlier, or run here), then the others as their workers
    finish them, so that plotting one overlaps the training of the rest."""
    waiting = {running[e.name]: e for e in experiments if e.name in running}
    yield from (e for e in experiments if e.name not in running)
    for future in as_completed(waiting):
        yield waiting[future]


def _shown(
    results: list[tuple[Experiment, pd.DataFrame]], every: list[Experiment],
    studies: list[Study], out_dir: Path,
) -> tuple[list[tuple[Experiment, pd.DataFrame]], list[Study], list[str]]:
    """What the README shows: the experiments just run (``results``) and every other one
    of ``every`` finished in ``out_dir``, in the report's order; the studies finished
    there; and the names of those shown that this run (``results``, ``studies``) did not
    make."""
    ran = {e.name: (e, h) for e, h in results}
    shown, earlier = [], []
    for experiment in every:
        if experiment.name in ran:
            shown.append(ran[experiment.name])
        elif (history := _finished(out_dir, experiment)) is not None:
            shown.append((experiment, history))
            earlier.append(experiment.name)
    finished = [s for s in STUDIES if s.finished(out_dir)]
    earlier += [s.name for s in finished if s not in studies]
    return shown, finished, earlier


def select_experiments(only: Sequence[str] | None, quick_run: bool) -> list[Experiment]:
    """The experiments ``only`` names (all if None), as :func:`quick` versions if asked."""
    known = [e.name for e in (*EXPERIMENTS, *STUDIES)]
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; known: {', '.join(known)}")
    experiments = [e for e in EXPERIMENTS if not only or e.name in only]
    return [quick(e) for e in experiments] if quick_run else experiments


def prepare_outputs(out_dir: Path, experiments: Sequence[Experiment], quick_run: bool) -> None:
    """Create ``out_dir`` and check every file the run will write there can be written.

    Raises:
        OSError: naming the path that cannot be written, or (``quick_run``) the README of
            a full report there, which a smoke run never replaces.
    """
    readme = out_dir / "README.md"
    if quick_run and readme.is_file() and QUICK_NOTE not in readme.read_text(errors="replace"):
        raise FileExistsError(errno.EEXIST, "holds a full report, which a --quick run never "
                                            "replaces", str(readme))
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(out_dir))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(err.errno, f"cannot create the directory ({err.strerror})",
                        str(out_dir)) from None
    for experiment in experiments:
        for suffix in (".csv", ".json", ".png"):
            check_writable(out_dir / f"{experiment.name}{suffix}")
    check_writable(readme)


def expected_work(out_dir: Path, experiments: Sequence[Experiment]) -> dict[str, float]:
    """How much work each experiment is, to start the largest first (two workers then
    finish together as nearly as the sizes allow): the seconds its last finished run in
    ``out_dir`` took, when each has one made with its settings; otherwise training images
    times epochs.

    The seconds are the better guide: an epoch of 1,000 batch-1 steps and its evaluation
    of 10,000 test images costs more than its images say, and batch norm more than the
    same network without it (``reports/speed/history.md`` has the figures).
    """
    seconds = {}
    for experiment in experiments:
        history = _finished(out_dir, experiment)
        if history is None or "epoch_seconds" not in history:
            return {e.name: float(_images_trained(e)) for e in experiments}
        seconds[experiment.name] = float(history["epoch_seconds"].sum())
    return seconds


def _images_trained(experiment: Experiment) -> int:
    """Training images times epochs."""
    images = 60_000 if experiment.per_class is None else 10 * experiment.per_class
    return images * experiment.config.epochs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's command-line options (shared by ``scratchnet report``)."""
    smoke_arguments(parser, DEFAULT_OUT, "a small, fast run (smoke test): "
                    f"{10 * QUICK_PER_CLASS} images, {QUICK_EPOCHS} epochs")
    names = ", ".join(e.name for e in (*EXPERIMENTS, *STUDIES))
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help=f"run only these experiments: {names}")
    data_arguments(parser, choose_dataset=False)
    parser.add_argument("--resume", action="store_true",
                        help="keep experiments already finished in --out with the same settings")
    progress_argument(parser)


def run_from_args(args: argparse.Namespace, command: str) -> None:
    """``scratchnet report``: check the flags and outputs, then :func:`run_report`."""
    out = output_dir(args.out, args.quick, DEFAULT_OUT, "accuracy")
    try:
        prepare_outputs(out, select_experiments(args.only, args.quick), args.quick)
    except ValueError as err:
        raise UsageError(f"--only: {err}") from None
    except OSError as err:
        raise output_error("--out", out, err) from None
    run_report(out, quick_run=args.quick, only=args.only, data_dir=args.data_dir,
               download=not args.no_download, resume=args.resume,
               progress=not args.no_progress, command=command)
    if args.quick:
        print(f"smoke run (--quick): the report is in {out}", file=sys.stderr)
