"""The ``scratchnet`` command: ``report``, ``train``, ``compare``, ``summary``, ``bench``.

It lives in ``reports/`` because it drives everything (the report and the benchmark use
PyTorch); the ``scratchnet`` package itself never imports torch. Bad arguments and
missing data end in one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from scratchnet.checkpoint import CheckpointError
from scratchnet.data import DataError
from scratchnet.layers import ShapeError

EXPECTED_ERRORS = (ValueError, DataError, ShapeError, CheckpointError, OSError)


def _network_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=("full", "shallow"), default="full",
                        help="the seed's full network or the shallow one (default: full)")
    parser.add_argument("--bias", choices=("untied", "tied", "none"), default="untied",
                        help="convolution bias: the seed's untied, PyTorch's tied, or none")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--seed", type=int, default=0, help="initialization seed")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    parser.add_argument("--data-dir", help="directory holding the dataset files")
    parser.add_argument("--no-download", action="store_true", help="never download data")


def _network(args: argparse.Namespace):
    from scratchnet.network import seed_network

    bias = None if args.bias == "none" else args.bias
    return seed_network(args.variant, bias=bias, dtype=np.dtype(args.dtype), seed=args.seed)


def cmd_summary(args: argparse.Namespace) -> None:
    net = _network(args)
    table = net.summary((1, 28, 28))
    print(table.to_markdown() if args.markdown else table.to_string())
    print(f"\n{net.num_params():,} parameters")


def cmd_compare(args: argparse.Namespace) -> None:
    from reference.compare import compare, format_comparison
    from scratchnet.data import as_float, load_dataset

    net = _network(args)
    if args.random:
        rng = np.random.default_rng(args.seed)
        x = rng.random((args.batch, 1, 28, 28)).astype(args.dtype)
        labels = rng.integers(0, 10, args.batch)
    else:
        data = load_dataset(args.dataset, args.data_dir, not args.no_download)
        x = as_float(data.test_images[: args.batch], np.dtype(args.dtype))
        labels = data.test_labels[: args.batch]
    df = compare(net, x, labels)
    print(format_comparison(df))
    if df.attrs["first_divergence"] is not None:
        sys.exit(1)


def cmd_train(args: argparse.Namespace) -> None:
    from scratchnet.data import as_float, load_dataset
    from scratchnet.train import TrainConfig, train

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                         optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                         weight_decay=args.weight_decay, clip_norm=args.clip_norm,
                         seed=args.shuffle_seed)
    if args.train_size is not None and not 1 <= args.train_size <= 60000:
        raise ValueError(f"--train-size: expected 1..60000, got {args.train_size}")
    data = load_dataset(args.dataset, args.data_dir, not args.no_download)
    dtype = np.dtype(args.dtype)
    n = args.train_size or len(data.train_labels)
    net = _network(args)
    history = train(net, as_float(data.train_images[:n], dtype), data.train_labels[:n],
                    as_float(data.test_images, dtype), data.test_labels, config,
                    checkpoint=args.checkpoint, resume=args.resume,
                    progress=not args.no_progress)
    columns = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]
    print(history[columns].to_string(index=False))
    if args.history:
        from scratchnet.atomic import write_atomically

        write_atomically(args.history, lambda f: history.to_csv(f, index=False))


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
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--clip-norm", type=float, default=None,
                   help="clip the global gradient norm to this before each step")
    p.add_argument("--shuffle-seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=None,
                   help="train on the first N training images only")
    p.add_argument("--checkpoint", help="write a checkpoint (.npz) here after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--history", help="also write the per-epoch history as CSV here")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = sub.add_parser("compare", help="one batch through scratchnet and PyTorch: every gap")
    _network_arguments(p)
    _data_arguments(p)
    p.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--random", action="store_true",
                   help="use random images instead of the first test images")

    p = sub.add_parser("summary", help="the network's layers, shapes and parameters")
    _network_arguments(p)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")

    sub.add_parser("bench", help="time scratchnet against PyTorch (options: bench --help)",
                   add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["bench"]:  # the benchmark parses its own options
        args, rest = argparse.Namespace(command="bench"), argv[1:]
    else:
        args, rest = parser.parse_args(argv), []
    commands = {"summary": cmd_summary, "compare": cmd_compare, "train": cmd_train,
                "report": cmd_report}
    try:
        if args.command == "bench":
            cmd_bench(args, rest)
        else:
            commands[args.command](args)
    except EXPECTED_ERRORS as err:
        message = str(err) or type(err).__name__
        print(f"scratchnet {args.command}: error: {message}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"scratchnet {args.command}: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
