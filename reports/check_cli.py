"""``scratchnet check PATH.py:CLASS --kind KIND``: check anyone's layer class against PyTorch
(``reference.check_layer``) and name its mistake; ``DESCRIPTION`` says what it does."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from pathlib import Path

from reference.check import CHECKED_KINDS, RANDOM_CONFIGURATIONS, check_layer, protocol_problem
from reports.usage import UsageError, non_negative_int
from scratchnet.atomic import write_atomically

DESCRIPTION = """\
Import PATH.py (which runs its code, as "python PATH.py" would: that is how the class is
found, so check only code you trust), check CLASS as a layer of KIND against PyTorch in
every configuration of the kind's battery, and print the verdict and the diagnosis, naming
the catalogued mistakes that reproduce the class's numbers. Exit status 0 when everything
agrees, 1 when something disagrees, 2 for a usage error (no such file or class, a file that
fails to import, a class without forward or backward, an unknown kind), which is one line
on stderr."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``check`` subcommand's arguments."""
    parser.add_argument("target", metavar="PATH.py:CLASS",
                        help="the file and the class in it to check; the file is imported, "
                             "which runs its code")
    parser.add_argument("--kind", required=True, metavar="KIND",
                        help=f"what the class is: one of {', '.join(CHECKED_KINDS)}")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the whole report (every row, verdict, diagnosis, "
                             "matched mistake ids) as JSON here, for a grader")
    parser.add_argument("--random", type=non_negative_int, default=RANDOM_CONFIGURATIONS,
                        metavar="N",
                        help="random configurations after the named ones (default "
                             f"{RANDOM_CONFIGURATIONS}; 0: the named ones only)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seeds the configurations and arrays (default 0)")
    parser.add_argument("--table", action="store_true",
                        help="also print every row: configuration, quantity, errors, status")


def _where_in(path: Path, err: BaseException) -> str:
    """``", line N"`` of the innermost frame of ``err``'s traceback in ``path``, if any."""
    if isinstance(err, SyntaxError) and err.lineno is not None:
        return f", line {err.lineno}"
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if Path(f.filename).resolve() == path.resolve()]
    return f", line {frames[-1].lineno}" if frames else ""


def load_class(target: str) -> type:
    """The class ``CLASS`` of ``PATH.py:CLASS``, importing the file (its directory first on
    ``sys.path``, so it may import the modules beside it)."""
    path_text, colon, name = target.rpartition(":")
    if not colon or not path_text or not name:
        raise UsageError(f"expected PATH.py:CLASS, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    module_name = f"scratchnet_check_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        text = err.msg if isinstance(err, SyntaxError) else str(err)   # msg: no "(file, line)"
        message = text.strip().splitlines()[0] if text.strip() else ""
        raise UsageError(f"cannot import {path}{_where_in(path, err)}: "
                         f"{type(err).__name__}" + (f": {message}" if message else "")) from None
    finally:
        sys.path.remove(str(path.resolve().parent))
    if not hasattr(module, name):
        classes = sorted(k for k, v in vars(module).items()
                         if isinstance(v, type) and v.__module__ == module_name)
        known = f" (it defines {', '.join(classes)})" if classes else ""
        raise UsageError(f"{path} has no class {name!r}{known}")
    cls = getattr(module, name)
    if not isinstance(cls, type):
        raise UsageError(f"{path}: {name!r} is a {type(cls).__name__}, not a class")
    return cls


def run(args: argparse.Namespace) -> None:
    """``scratchnet check``: print the report; exit 1 unless everything agrees."""
    if args.kind not in CHECKED_KINDS:
        raise UsageError(f"--kind: unknown kind {args.kind!r}: expected one of "
                         f"{', '.join(CHECKED_KINDS)}")
    if args.json is not None:             # checked before any work: the file must be writable
        out = Path(args.json)
        if out.is_dir() or not out.parent.is_dir():
            raise UsageError(f"--json: cannot write {out}: "
                             f"{'it is a directory' if out.is_dir() else 'no such directory'}")
    cls = load_class(args.target)
    problem = protocol_problem(cls, args.kind)
    if problem is not None:
        raise UsageError(problem)
    report = check_layer(cls, args.kind, random_configurations=args.random, seed=args.seed)
    if args.table:
        print(report.table.drop(columns=["setting"]).to_string(index=False), end="\n\n")
    print(report.text())
    if args.json is not None:
        write_atomically(args.json, lambda f: f.write(report.to_json().encode()))
    if not report.passed:
        sys.exit(1)
