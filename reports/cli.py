"""The ``scratchnet`` command: ``report``, ``train``, ``compare``, ``summary``, ``bench``,
``check`` (in ``reports/check_cli.py``).

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

from reports import check_cli
from reports.usage import (
    UsageError,
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from scratchnet.checkpoint import CheckpointError
from scratchnet.data import DataDirError, DataError
from scratchnet.layers import ShapeError
from scratchnet.train import Bounds, OutputError, ResumeMismatchError

SGD_MOMENTUM = 0.9  # --momentum's default with --optimizer sgd (Adam has its own betas)
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


def _network_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=("full", "shallow"), default="full",
                        help="the seed's full network or the shallow one (default: full)")
    parser.add_argument("--bias", choices=("untied", "tied", "none"), default="untied",
                        help="convolution bias: the seed's untied, PyTorch's tied, or none")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="initialization seed, >= 0")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    parser.add_argument("--data-dir", help="read the dataset from this directory (DIR or "
                                           "DIR/<dataset>) and nowhere else")
    parser.add_argument("--no-download", action="store_true", help="never download data")


def _network(args: argparse.Namespace):
    from scratchnet.network import seed_network

    bias = None if args.bias == "none" else args.bias
    return seed_network(args.variant, bias=bias, dtype=np.dtype(args.dtype), seed=args.seed)


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

    if args.momentum is not None and args.optimizer != "sgd":
        raise UsageError(f"--momentum: is for --optimizer sgd; {args.optimizer} has its own "
                         "betas (leave --momentum out)")
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


def cmd_bench(args: argparse.Namespace, rest: Sequence[str]) -> None:
    from reports import bench

    bench.main(list(rest), prog="scratchnet bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="The seed report's CNN from scratch in NumPy, checked against PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from reports.accuracy import add_arguments as report_arguments

    p = sub.add_parser("report", help="train scratchnet and PyTorch side by side; write reports/")
    report_arguments(p)

    p = sub.add_parser("train", help="train a scratchnet network on MNIST or Fashion-MNIST")
    _network_arguments(p)
    _data_arguments(p)
    bounds = Bounds()
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=positive_float, default=0.01)
    p.add_argument("--momentum", type=fraction, default=None,
                   help=f"SGD momentum in [0, 1) (default {SGD_MOMENTUM}; only with sgd)")
    p.add_argument("--weight-decay", type=non_negative_float, default=0.0)
    p.add_argument("--clip-norm", type=positive_float, default=None,
                   help="clip the global gradient norm to this before each step")
    p.add_argument("--shuffle-seed", type=non_negative_int, default=0)
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
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = sub.add_parser("compare", help="one batch through scratchnet and PyTorch: every gap")
    _network_arguments(p)
    _data_arguments(p)
    p.add_argument("--batch", type=positive_int, default=8,
                   help=f"batch size, 1..{MAX_COMPARE_BATCH} (default 8)")
    p.add_argument("--random", action="store_true",
                   help="use random images instead of the first test images")

    p = sub.add_parser("summary", help="the network's layers, shapes and parameters")
    _network_arguments(p)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")

    sub.add_parser("bench", help="time scratchnet against PyTorch (options: bench --help)",
                   add_help=False)

    p = sub.add_parser("check", help="check your own layer class against PyTorch and name its "
                       "mistake (imports the file: runs its code)",
                       description=check_cli.DESCRIPTION)
    check_cli.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["bench"]:  # the benchmark parses its own options
        args, rest = argparse.Namespace(command="bench"), argv[1:]
    else:
        args, rest = parser.parse_args(argv), []
    commands = {"summary": cmd_summary, "compare": cmd_compare, "train": cmd_train,
                "report": cmd_report, "check": check_cli.run}
    prefix = f"scratchnet {args.command}:"

    def one_line_warning(message, category, *_args, **_kwargs) -> None:
        print(f"{prefix} warning: {message} ({category.__name__})", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warning
            if args.command == "bench":
                cmd_bench(args, rest)
            else:
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
