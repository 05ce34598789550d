"""The child's side of grading: import a submission's files, find its implementations,
run each through its kind's battery, and send the runs back as data.

Everything here runs in the submission's worker (``isolation``), beside the submission's
own code, which may have changed any module it can reach: nothing here is trusted by the
grader, which checks every frame (``wire.decode``) and judges the runs itself.

The frames, in order (``header["type"]``):

* ``"files"``: the ``.py`` files found;
* ``"import error"``: a file that raised while imported (``file``, ``error``);
* ``"problem"``: an implementation that cannot be checked (half a function pair),
  and why;
* ``"start"``: an implementation about to run (``file``, ``name``, ``kind``): if the
  worker dies or runs out of time now, the grader knows where;
* ``"runs"``: its runs (``runs``: one encoded ``Run`` per configuration of the battery,
  ``style``, ``conventions``, ``seconds``), the arrays in the frame's archive;
* ``"done"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from reference.grade import wire
from reference.grade.checker import ImportFailedError, Prepared, discover, load, run_battery

Send = Callable[[dict[str, Any], dict[str, np.ndarray] | None], None]


def python_files(where: Path) -> list[Path]:
    """The submission's ``.py`` files, in a stable order (none under a hidden folder or
    ``__pycache__``)."""
    files = [where] if where.is_file() else sorted(where.rglob("*.py"))
    return [p for p in files
            if not any(part.startswith(".") or part == "__pycache__"
                       for part in p.relative_to(where).parts)] if where.is_dir() else files


def blind(prepared: Iterable[Prepared]) -> None:
    """Wipe PyTorch's reference numbers from ``prepared`` in this process (NaN, same
    shapes), and the catalogue's runs made on them: a submission reading the checker's
    memory finds no answer to copy. The grader keeps its own."""
    for p in prepared:
        for reference in p.references:
            for q, value in reference.items():
                if isinstance(value, np.ndarray) and value.flags.writeable:
                    value.fill(math.nan) if value.dtype.kind in "fc" else value.fill(0)
                reference[q] = np.full(np.shape(value), math.nan)
        p._variant_runs.clear()


def check_submission(where: Path, send: Send, prepared: dict[str, Prepared],
                     declarations: dict[str, dict[str, Any]] | None = None) -> None:
    """Import every ``.py`` file of ``where``, and run each implementation of an expected
    kind (``prepared``'s keys) through its battery, the classes ``declarations`` names
    checked through their declarations; send the frames (see the module)."""
    files = python_files(where)

    def name(path: Path) -> str:
        return path.name if where.is_file() else str(path.relative_to(where))

    send({"type": "files", "files": [name(p) for p in files]}, None)
    for path in files:
        try:
            module = load(path)
            own = {name for name, value in vars(module).items()
                   if getattr(value, "__module__", None) == module.__name__}
            implementations = discover(module, {name: declaration for name, declaration
                                                in (declarations or {}).items() if name in own})
        except BaseException as err:  # the submission's error
            send({"type": "import error", "file": name(path), "error": _raised(err, where)}, None)
            continue
        for impl in implementations:
            if impl.kind not in prepared:
                continue
            about = {"file": name(path), "name": impl.name, "kind": impl.kind}
            if impl.build is None:
                send({"type": "problem", **about, "problem": str(impl.problem)}, None)
                continue
            send({"type": "start", **about}, None)
            start = time.perf_counter()
            runs = run_battery(impl.build, impl.kind, prepared[impl.kind])
            encoded, arrays = wire.encode(list(runs), "a")
            send({"type": "runs", **about, "style": impl.style,
                  "conventions": list(impl.conventions), "runs": encoded,
                  "seconds": time.perf_counter() - start}, arrays)
    send({"type": "done"}, None)


def _raised(err: BaseException, root: Path) -> str:
    """``"<Type>: <first line>"``, with the line of the submission's file when known."""
    if isinstance(err, ImportFailedError):                # it names the file and line
        return str(err).strip().splitlines()[0][:400] if str(err).strip() else "ImportFailedError"
    text = err.msg if isinstance(err, SyntaxError) else str(err)
    first = text.strip().splitlines()[0][:300] if text.strip() else ""
    where = ""
    if isinstance(err, SyntaxError) and err.lineno is not None:
        where = f" (line {err.lineno})"
    else:
        tb = err.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None and tb.tb_frame.f_code.co_filename.startswith(str(root)):
            where = f" (line {tb.tb_lineno})"
    return f"{type(err).__name__}{where}" + (f": {first}" if first else "")
