"""``scratchnet check FILE.py[:NAME] [--kind KIND] [--declare KEY=VALUE ...]``: check
anyone's layers against PyTorch (``reference.check``) and name their mistakes;
``DESCRIPTION`` says what it does."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reference.check import (
    CHECKED_KINDS,
    RANDOM_CONFIGURATIONS,
    Implementation,
    LayerReport,
    check_implementation,
    discover,
    load,
    protocol_problem,
    styles,
)
from reference.check.styles import DeclarationError, ImportFailedError
from reference.check.styles.declared import KEYS, declare
from reports.usage import UsageError, non_negative_int
from scratchnet.atomic import write_atomically

DESCRIPTION = """\
Import FILE.py (which runs its code, as "python FILE.py" would: check only code you
trust; `scratchnet grade` runs it apart) and check every layer implementation in it against
PyTorch in every configuration of its kind's battery: classes with a `kind` attribute and
CS231n-style function pairs found by their names (conv_forward_naive / conv_backward_naive,
max_pool_*, affine_*, relu_*, softmax_loss) and update rules (sgd, sgd_momentum, rmsprop,
adam). FILE.py:NAME checks one class (--kind needed
unless it has a `kind` attribute); FILE.py:FORWARD,BACKWARD a function pair of other names in
the CS231n conventions of --kind. --declare KEY=VALUE (repeatable) says how a class of its
own making keeps its state (keys: args, weight, bias, grad_weight, grad_bias, grads,
weight_layout, bias_layout, input, output, grads_averaged, learning_rate; see the README).
Prints one line per implementation, then the diagnoses naming the catalogued mistakes.
Exit status 0 when everything agrees, 1 when something is wrong, 3 when nothing is wrong but
something did not run (an exception, a result of the wrong form), 2 for a usage error (no
such file or name, a file that fails to import, an unknown kind), which is one line on
stderr."""

#: Exit status when nothing is wrong but some implementation did not run.
DID_NOT_RUN = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``check`` subcommand's arguments."""
    parser.add_argument("target", metavar="FILE.py[:NAME]",
                        help="the file (every implementation in it), or one class or "
                             "FORWARD,BACKWARD function pair in it; the file is imported, "
                             "which runs its code")
    parser.add_argument("--kind", metavar="KIND",
                        help=f"what NAME is: one of {', '.join(CHECKED_KINDS)}")
    parser.add_argument("--declare", action="append", default=[], metavar="KEY=VALUE",
                        help="how the class NAME keeps its state (repeatable): "
                             + ", ".join(KEYS))
    parser.add_argument("--json", metavar="PATH",
                        help="also write every report (rows, status, verdict, diagnosis, "
                             "matched mistake ids), one entry per implementation, as JSON "
                             "here, for a grader")
    parser.add_argument("--random", type=non_negative_int, default=RANDOM_CONFIGURATIONS,
                        metavar="N",
                        help="random configurations after the named ones (default "
                             f"{RANDOM_CONFIGURATIONS}; 0: the named ones only)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seeds the configurations and arrays (default 0)")
    parser.add_argument("--table", action="store_true",
                        help="also print every row: configuration, quantity, errors, status")


def declaration(pairs: list[str]) -> dict[str, str]:
    """``["weight=W", "grads_averaged=true"]`` -> ``{"weight": "W", ...}``."""
    declared = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise UsageError(f"--declare: expected KEY=VALUE, got {pair!r}")
        declared[key.strip()] = value.strip()
    return declared


def implementations(args: argparse.Namespace) -> list[Implementation]:
    """What the target names: every implementation of the file, one class, or one pair."""
    if args.kind is not None and args.kind not in CHECKED_KINDS:
        raise UsageError(f"--kind: unknown kind {args.kind!r}: expected one of "
                         f"{', '.join(CHECKED_KINDS)}")
    path_text, colon, name = args.target.partition(":") if args.target.count(":") == 1 \
        else (args.target, "", "")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if args.declare and not name:
        raise UsageError("--declare: name the class it describes, as FILE.py:NAME")
    try:
        module = load(path)
    except ImportFailedError as err:
        raise UsageError(str(err)) from None
    if not colon:
        found = discover(module)
        if not found:
            raise UsageError(f"{path}: no implementation found (no class with a kind "
                             f"attribute, no CS231n function pair such as "
                             f"conv_forward_naive / conv_backward_naive); name one as "
                             f"FILE.py:NAME --kind KIND")
        return found
    if "," in name:
        return [function_pair(module, path, name, args.kind)]
    return [one_class(module, path, name, args)]


def function_pair(module, path: Path, name: str, kind: str | None) -> Implementation:
    forward, _, backward = (n.strip() for n in name.partition(","))
    if kind is None:
        raise UsageError("--kind: a FORWARD,BACKWARD pair needs its kind")
    for fn in (forward, backward):
        if not callable(getattr(module, fn, None)):
            raise UsageError(f"{path} has no function {fn!r}")
    try:
        return styles.function_pair(kind, getattr(module, forward), getattr(module, backward),
                                    (forward, backward))
    except ValueError as err:
        raise UsageError(f"--kind: {err}") from None


def one_class(module, path: Path, name: str, args: argparse.Namespace) -> Implementation:
    cls = getattr(module, name, None)
    if cls is None:
        classes = sorted(k for k, v in vars(module).items()
                         if isinstance(v, type) and v.__module__ == module.__name__)
        known = f" (it defines {', '.join(classes)})" if classes else ""
        raise UsageError(f"{path} has no class {name!r}{known}")
    if not isinstance(cls, type):
        raise UsageError(f"{path}: {name!r} is a {type(cls).__name__}, not a class")
    kind = args.kind or getattr(cls, "kind", None)
    if kind not in CHECKED_KINDS:
        raise UsageError(f"--kind: say what {name} is, one of {', '.join(CHECKED_KINDS)}")
    if args.declare:
        try:
            built = declare(cls, kind, **declaration(args.declare))
        except DeclarationError as err:
            raise UsageError(f"--declare: {err}") from None
        return Implementation(name, kind, "declared class", built, tuple(built.conventions))
    problem = protocol_problem(cls, kind)
    if problem is not None:
        raise UsageError(problem)
    return Implementation(name, kind, "class", cls)


def run(args: argparse.Namespace) -> None:
    """``scratchnet check``: print the reports; exit 1 if any is wrong, 3 if none is but
    some did not run."""
    if args.json is not None:             # checked before any work: the file must be writable
        out = Path(args.json)
        if out.is_dir() or not out.parent.is_dir():
            raise UsageError(f"--json: cannot write {out}: "
                             f"{'it is a directory' if out.is_dir() else 'no such directory'}")
    reports: list[LayerReport] = [check_implementation(impl, args.random, args.seed)
                                  for impl in implementations(args)]
    if len(reports) > 1:
        for report in reports:
            print(f"{report.status.upper():>11}  {report.name} ({report.kind})")
        print()
    for report in reports:
        if args.table:
            print(report.table.drop(columns=["setting"]).to_string(index=False), end="\n\n")
        print(report.text(), end="\n\n" if len(reports) > 1 else "\n")
    if args.json is not None:
        entries = [json.loads(report.to_json()) for report in reports]
        write_atomically(args.json, lambda f: f.write(
            (json.dumps(entries if len(entries) > 1 else entries[0], indent=2) + "\n").encode()))
    statuses = {report.status for report in reports}
    if "wrong" in statuses:
        sys.exit(1)
    if "did not run" in statuses:
        sys.exit(DID_NOT_RUN)
