"""Writing a file atomically: a reader sees the old file or the new one, never half of one.

Every file scratchnet writes (checkpoints, IDX files, reports) goes through
:func:`write_atomically`: the bytes go to a temporary file in the same directory, are
flushed to disk, and only then is the temporary file renamed over the target with
``os.replace``, which is atomic on POSIX and Windows. If writing fails, or the process is
interrupted, the old file is untouched and the temporary file is removed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temporary binary file, then move it to ``path``.

    Args:
        path: the file to create or replace; its directory must exist.
        write: writes the content to the open file ``f`` it is given.

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry of a just-replaced file to disk (POSIX; no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
