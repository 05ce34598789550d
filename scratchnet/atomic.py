"""Writing a file atomically: a reader sees the old file or the new one, never half of one.

Every file scratchnet writes (checkpoints, histories, IDX files, reports) goes through
:func:`write_atomically`: the bytes go to a temporary file in the same directory, are
flushed to disk, and only then is the temporary file renamed over the target with
``os.replace``, which is atomic on POSIX and Windows. If writing fails, or the process is
interrupted, the old file is untouched and the temporary file is removed.

:func:`check_writable` asks the same question before any work starts: can a file be put
at this path? A run calls it for every path it will write, so a typo in an output path
fails in the first second, not after an hour of training. Both name the caller's path in
their errors, never the temporary file.
"""

from __future__ import annotations

import errno
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

    Raises:
        OSError: the file cannot be written; ``filename`` is ``path`` (not the temporary
            file), ``strerror`` says why.
    """
    path = Path(path)
    tmp = _temporary_name(path, "tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _naming(err, path) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def check_writable(path: str | os.PathLike) -> Path:
    """Raise an ``OSError`` naming ``path`` unless :func:`write_atomically` can write it.

    ``path`` must be a regular file or nothing yet (not a directory, a device or a pipe,
    which a rename would replace), and its directory must exist and take a new file
    (tried by creating and removing an empty one there: this also catches read-only
    file systems and permissions, whoever runs it).

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a directory", str(path))
    if path.exists() and not path.is_file():  # a device or a pipe: never replace it
        raise FileExistsError(errno.EEXIST, "it exists and is not a regular file", str(path))
    if not parent.exists():
        raise FileNotFoundError(errno.ENOENT, f"no such directory {parent}", str(path))
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{parent} is not a directory", str(path))
    probe = _temporary_name(path, "probe")
    try:
        probe.touch(exist_ok=False)
    except OSError as err:
        raise _naming(err, path) from err
    probe.unlink()
    return path


def _temporary_name(path: Path, kind: str) -> Path:
    """A hidden name beside ``path`` that no other writer uses."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` again (same type and errno), about ``path`` instead of a temporary file."""
    reason = err.strerror or str(err) or type(err).__name__
    return type(err)(err.errno, f"cannot write it ({reason})", str(path))


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry of a just-replaced file to disk (POSIX; no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
