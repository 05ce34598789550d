"""The styles people write layers in, each turned into the one layer protocol the battery
runs, and ``discover``, which finds every implementation in a file.

* **class**: a class following the protocol (``scratchnet.layers.base.LayerProtocol``)
  with a ``kind`` attribute;
* **functions**: CS231n's ``conv_forward_naive`` / ``conv_backward_naive`` pairs, found by
  their names (each kind's ``Kind.functions``: the names, and the small class that calls
  them in their own conventions);
* **declared class**: a class of its own making, checked through a few declared facts
  (``declared.py``: where its weights and gradients are, their layout, ...).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from reference.check.styles.declared import KEYS, DeclarationError, declare
from reference.guard import raised, user_location
from reference.kinds import KINDS


@dataclass(frozen=True)
class Implementation:
    """One implementation found in a file, ready to check.

    Attributes:
        name: how its author knows it: ``"Conv2D"``, ``"conv_forward_naive /
            conv_backward_naive"``.
        kind: the kind it is checked as.
        style: ``"class"``, ``"functions"`` or ``"declared class"``.
        build: builds it in a configuration, as scratchnet's class of the kind is built,
            following the layer protocol.
        conventions: where its style differs from PyTorch's, as the check assumes it.
        problem: why it cannot be checked at all (half a pair), or None.
    """

    name: str
    kind: str
    style: str
    build: Callable[..., Any] | None
    conventions: tuple[str, ...] = field(default_factory=tuple)
    problem: str | None = None


class ImportFailedError(Exception):
    """The file (or one it imports) raised while it was imported: the message names the
    file and line where it happened."""


def load(path: Path) -> ModuleType:
    """Import the file ``path`` (its folder first on ``sys.path``, so that it may import
    the modules beside it), which runs its code; ImportFailedError says what it raised and
    where."""
    name = f"scratchnet_check_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportFailedError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as err:
        if isinstance(err, SyntaxError):                     # msg: no "(file, line)"
            err = SyntaxError(err.msg, (err.filename, err.lineno, err.offset, err.text))
        where = user_location(err) or ""
        at = (where.removeprefix(path.name) if where.startswith(f"{path.name},")
              else f": in {where}" if where else "")
        raise ImportFailedError(f"cannot import {path}{at}: "
                                + raised("it", err).removeprefix("it raised ")) from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def discover(module: ModuleType,
             declarations: Mapping[str, Mapping[str, Any]] | None = None
             ) -> list[Implementation]:
    """Every implementation ``module`` defines: the classes with a ``kind``, the CS231n
    function pairs, and the classes named in ``declarations`` (class name -> its
    declaration, with a ``kind`` key), in the order the file defines them."""
    found: list[tuple[int, Implementation]] = []
    own = {k: v for k, v in vars(module).items()
           if getattr(v, "__module__", None) == module.__name__}
    for name, obj in own.items():
        if inspect.isclass(obj) and getattr(obj, "kind", None) in KINDS and name not in (
                declarations or {}):
            found.append((_line(obj), Implementation(name, obj.kind, "class", obj)))
    for kind, style in ((k.name, k.functions) for k in KINDS.values() if k.functions):
        for forward, backward in style.pairs:
            if forward not in own and (backward is None or backward not in own):
                continue
            names = (forward, backward)
            label = forward if backward is None else f"{forward} / {backward}"
            missing = [n for n in names if n is not None and not callable(own.get(n))]
            problem = (f"it defines {' and '.join(n for n in names if n and n in own)} but no "
                       f"function {missing[0]}") if missing else None
            line = min(_line(own[n]) for n in names if n in own)
            found.append((line, Implementation(label, kind, "functions", None,
                                               style.conventions, problem) if problem else
                          function_pair(kind, own[forward], own.get(backward), names)))
    for name, declaration in (declarations or {}).items():
        cls = own.get(name)
        options = dict(declaration)
        kind = options.pop("kind", getattr(cls, "kind", None))
        if not inspect.isclass(cls):
            found.append((10**9, Implementation(name, str(kind), "declared class", None,
                                                problem=f"the file has no class {name}")))
            continue
        if kind not in KINDS:
            raise DeclarationError(f"{name}: declare its kind (kind=...), one of "
                                   f"{', '.join(KINDS)}")
        built = declare(cls, kind, **options)
        found.append((_line(cls), Implementation(name, kind, "declared class", built,
                                                 tuple(built.conventions))))
    return [impl for _, impl in sorted(found, key=lambda pair: pair[0])]


def function_pair(kind: str, forward: Callable, backward: Callable | None,
                  names: tuple[str, str | None]) -> Implementation:
    """The functions ``forward`` and ``backward`` (called ``names``) as an implementation
    of ``kind`` in its CS231n conventions (``Kind.functions``), with the conventions the
    adapter found where it infers them (dropout's ``p``)."""
    style = KINDS[kind].functions
    if style is None:
        raise ValueError(f"a {kind} has no function style: check a class")
    build = style.adapter(forward, backward, names)
    label = names[0] if names[1] is None else f"{names[0]} / {names[1]}"
    return Implementation(label, kind, "functions", build,
                          tuple(getattr(build, "conventions", style.conventions)))


def _line(obj: Any) -> int:
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0


__all__ = [
    "KEYS",
    "DeclarationError",
    "Implementation",
    "ImportFailedError",
    "declare",
    "discover",
    "function_pair",
    "load",
]
