"""The ``scratchnet`` command: ``report``, ``train``, ``compare``, ``summary``, ``bench``,
``check`` (in ``reports/check_cli.py``), ``grade`` (in ``reports/grade_cli.py``).

One argparse tree holds every subcommand. Each subcommand's options are defined once: the
report's by ``reports.accuracy.add_arguments``, the benchmark's by
``reports.bench.add_arguments`` (which ``python -m reports.bench`` parses with too),
``check``'s by ``reports.check_cli.add_arguments``, those several commands share by
``reports/usage.py``, with choices taken from the library's constants.

It lives in ``reports/`` because it drives everything (the report and the benchmark use
PyTorch); the ``scratchnet`` package itself never imports torch.

Every failure ends in one line on stderr, never a traceback, through one mechanism:
argparse refuses malformed values (``reports/usage.py`` holds the value types), and every
error a command raises is caught once, in :func:`main`, and turned into a line by
:func:`error_line`. The exit status says what happened:

    0    done
    1    training diverged, or ``compare`` found a disagreement with PyTorch
    2    a user's mistake: bad arguments, missing or damaged data or checkpoint,
         an output that cannot be written (the line names the flag or file)
    130  interrupted (Ctrl-C); the checkpoint and history keep the last finished epoch
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from reports import check_cli, grade_cli
from reports.usage import (
    UsageError,
    bias_mode,
    data_arguments,
    fraction,
    network_arguments,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    progress_argument,
)
from scratchnet.checkpoint import CheckpointError
from scratchnet.data import DataDirError, DataError
from scratchnet.layers import ShapeError
from scratchnet.train import (
    OPTIMIZERS,
    OPTIONS,
    Bounds,
    OutputError,
    ResumeMismatchError,
    TrainConfig,
)

SGD_MOMENTUM = 0.9  # --momentum's default with --optimizer sgd (0 with rmsprop, as torch's)
MAX_COMPARE_BATCH = 10_000  # the size of the test set


def error_line(err: BaseException) -> tuple[int, str] | None:
    """The exit status and the one line for an error that ends a command.

    None: not a user's mistake nor a known failure, i.e. a bug, which keeps its traceback.
    """
    if isinstance(err, UsageError):
        return 2, f"error: {err}"
    if isinstance(err, DataDirError):
        return 2, f"error: --data-dir {err.directory}: {err.problem}"
    if isinstance(err, OutputError):
        return 2, f"error: --{err.argument} {err.path}: {err.problem}"
    if isinstance(err, ResumeMismatchError):
        return 2, (f"error: --resume {err.path}: this run differs from the checkpoint in "
                   f"{'; '.join(err.differences)}; add --force-resume to continue anyway")
    if isinstance(err, FloatingPointError):  # DivergenceError; the benchmark's NaN check
        return 1, str(err)
    if isinstance(err, OSError):
        return 2, ("error: " + (f"{err.filename}: {err.strerror}" if err.filename and
                                err.strerror else str(err) or type(err).__name__))
    if isinstance(err, MemoryError):
        return 1, "error: out of memory"
    if isinstance(err, (DataError, CheckpointError, ShapeError, ValueError)):
        return 2, f"error: {err}"
    return None


# ---------------------------------------------------------------------------- arguments


def _network(args: argparse.Namespace):
    from scratchnet.network import seed_network

    return seed_network(args.variant, bias=bias_mode(args.bias), dtype=np.dtype(args.dtype),
                        seed=args.seed)


def _dataset(args: argparse.Namespace):
    from scratchnet.data import load_dataset

    return load_dataset(args.dataset, args.data_dir, not args.no_download)


# ---------------------------------------------------------------------------- commands


def cmd_summary(args: argparse.Namespace) -> None:
    net = _network(args)
    table = net.summary((1, 28, 28))
    print(table.to_markdown() if args.markdown else table.to_string())
    print(f"\n{net.num_params():,} parameters")


def cmd_compare(args: argparse.Namespace) -> None:
    from reference.compare import compare, format_comparison
    from scratchnet.data import as_float

    if args.batch > MAX_COMPARE_BATCH:
        raise UsageError(f"--batch {args.batch}: expected at most {MAX_COMPARE_BATCH:,} "
                         "(the size of the test set)")
    if args.random:
        rng = np.random.default_rng(args.seed)
        x = rng.random((args.batch, 1, 28, 28)).astype(args.dtype)
        labels = rng.integers(0, 10, args.batch)
    else:
        data = _dataset(args)
        x = as_float(data.test_images[: args.batch], np.dtype(args.dtype))
        labels = data.test_labels[: args.batch]
    df = compare(_network(args), x, labels)
    print(format_comparison(df))
    if df.attrs["first_divergence"] is not None:
        sys.exit(1)


def cmd_train(args: argparse.Namespace) -> None:
    from scratchnet.data import as_float
    from scratchnet.train import TrainConfig, check_outputs, train

    for option in OPTIONS:  # those the optimizer chosen does not take
        if getattr(args, option) is not None and option not in OPTIMIZERS[args.optimizer].options:
            takers = " or ".join(name for name, kind in OPTIMIZERS.items()
                                 if option in kind.options)
            raise UsageError(f"--{option}: is for --optimizer {takers}, not {args.optimizer} "
                             f"(leave --{option} out)")
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume: needs --checkpoint FILE, the checkpoint to continue")
    if args.force_resume and not args.resume:
        raise UsageError("--force-resume: goes with --resume")
    momentum = args.momentum if args.momentum is not None else (
        SGD_MOMENTUM if args.optimizer == "sgd" else 0.0)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                         optimizer=args.optimizer, lr=args.lr, momentum=momentum,
                         weight_decay=args.weight_decay, clip_norm=args.clip_norm,
                         seed=args.shuffle_seed)
    bounds = Bounds(max_loss=args.max_loss, max_grad_norm=args.max_grad_norm)
    check_outputs(args.checkpoint, args.history, args.resume)  # before the data is read
    data = _dataset(args)
    n = len(data.train_labels) if args.train_size is None else args.train_size
    if n > len(data.train_labels):
        raise UsageError(f"--train-size {n}: the training set has only "
                         f"{len(data.train_labels):,} images")
    dtype = np.dtype(args.dtype)
    history = train(_network(args), as_float(data.train_images[:n], dtype),
                    data.train_labels[:n], as_float(data.test_images, dtype),
                    data.test_labels, config, checkpoint=args.checkpoint, resume=args.resume,
                    force_resume=args.force_resume, history=args.history, bounds=bounds,
                    progress=not args.no_progress)
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]
    print(history[columns].to_string(index=False))


def cmd_report(args: argparse.Namespace) -> None:
    from reports import accuracy

    command = ("scratchnet report" + (" --quick" if args.quick else "")
               + (f" --only {' '.join(args.only)}" if args.only else ""))
    accuracy.run_from_args(args, command)


def cmd_bench(args: argparse.Namespace, argv: Sequence[str]) -> None:
    """``scratchnet bench``; ``argv``: its arguments as given, for the report's command."""
    from reports import bench

    bench.run_from_args(args, argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="The seed report's CNN from scratch in NumPy, checked against PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from reports import accuracy, bench

    p = sub.add_parser("report", help="train scratchnet and PyTorch side by side; write reports/")
    accuracy.add_arguments(p)

    p = sub.add_parser("train", help="train a scratchnet network on MNIST or Fashion-MNIST")
    network_arguments(p)
    data_arguments(p)
    bounds, config = Bounds(), TrainConfig()
    p.add_argument("--epochs", type=positive_int, default=config.epochs)
    p.add_argument("--batch-size", type=positive_int, default=config.batch_size)
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=config.optimizer)
    p.add_argument("--lr", type=positive_float, default=config.lr)
    p.add_argument("--momentum", type=fraction, default=None,
                   help=f"momentum in [0, 1) (default {SGD_MOMENTUM} with sgd, 0 with rmsprop; "
                        "not with adam)")
    p.add_argument("--weight-decay", type=non_negative_float, default=config.weight_decay)
    p.add_argument("--clip-norm", type=positive_float, default=config.clip_norm,
                   help="clip the global gradient norm to this before each step")
    p.add_argument("--shuffle-seed", type=non_negative_int, default=config.seed)
    p.add_argument("--train-size", type=positive_int, default=None,
                   help="train on the first N training images only")
    p.add_argument("--max-loss", type=positive_float, default=bounds.max_loss,
                   help="stop as diverged when a batch's loss passes this "
                        f"(default {bounds.max_loss:g}; NaN or inf always stop)")
    p.add_argument("--max-grad-norm", type=positive_float, default=bounds.max_grad_norm,
                   help="stop as diverged when the gradient norm passes this "
                        f"(default {bounds.max_grad_norm:g})")
    p.add_argument("--checkpoint", help="write a checkpoint (.npz) here after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--force-resume", action="store_true",
                   help="with --resume: continue even if the checkpoint was made with other "
                        "settings, dtype or data")
    p.add_argument("--history", help="write the per-epoch history as CSV here after every "
                                     "epoch")
    progress_argument(p)

    p = sub.add_parser("compare", help="one batch through scratchnet and PyTorch: every gap")
    network_arguments(p)
    data_arguments(p)
    p.add_argument("--batch", type=positive_int, default=8,
                   help=f"batch size, 1..{MAX_COMPARE_BATCH} (default 8)")
    p.add_argument("--random", action="store_true",
                   help="use random images instead of the first test images")

    p = sub.add_parser("summary", help="the network's layers, shapes and parameters")
    network_arguments(p)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")

    p = sub.add_parser("bench", help="time scratchnet against PyTorch (options: bench --help)",
                       description=bench.DESCRIPTION)
    bench.add_arguments(p)

    p = sub.add_parser("check", help="check your own layer class against PyTorch and name its "
                       "mistake (imports the file: runs its code)",
                       description=check_cli.DESCRIPTION)
    check_cli.add_arguments(p)

    p = sub.add_parser("grade", help="grade a class's submissions against PyTorch, each in a "
                       "sandboxed child process: CSV, HTML, Gradescope JSON",
                       description=grade_cli.DESCRIPTION)
    grade_cli.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    commands = {"summary": cmd_summary, "compare": cmd_compare, "train": cmd_train,
                "report": cmd_report, "bench": lambda args: cmd_bench(args, argv[1:]),
                "check": check_cli.run, "grade": grade_cli.run}
    prefix = f"scratchnet {args.command}:"

    def one_line_warning(message, category, *_args, **_kwargs) -> None:
        print(f"{prefix} warning: {message} ({category.__name__})", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning
            commands[args.command](args)
    except KeyboardInterrupt:
        print(f"{prefix} interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        line = error_line(err)
        if line is None:
            raise
        status, message = line
        print(f"{prefix} {message}", file=sys.stderr)
        sys.exit(status)


if __name__ == "__main__":
    main()
