"""IDX, the file format of MNIST: a tiny header, then one big-endian array.

Layout (all integers big-endian)::

    byte 0-1   0x00 0x00              magic
    byte 2     data type code         0x08 uint8, 0x09 int8, 0x0B int16,
                                      0x0C int32, 0x0D float32, 0x0E float64
    byte 3     ndim
    then       ndim x uint32          the size of each dimension
    then       the data               prod(dims) items, row-major

MNIST ships its files gzip-compressed. ``read_idx`` accepts either form and tells
them apart by their first two bytes (gzip starts with ``1f 8b``, IDX with ``00 00``),
so a file keeps working if someone decompresses it but keeps the ``.gz`` name.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from scratchnet.atomic import write_atomically

# IDX data type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """A data file is missing, damaged or not what it should be (the message says which)."""


def _type_names() -> str:
    return ", ".join(f"0x{code:02X} ({dt.newbyteorder('=').name})"
                     for code, dt in IDX_DTYPES.items())


def read_uncompressed(path: str | os.PathLike, name: str | None = None) -> bytes:
    """The content of ``path``: its bytes, gunzipped first if it is gzip data.

    Args:
        path: the file.
        name: what to call the file in error messages (default: ``path`` as given).

    Raises:
        DataError: the file cannot be read, or its gzip stream is corrupt or cut short.
    """
    name = str(path) if name is None else name
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{name}: cannot read it ({err.strerror or err})") from None
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{name}: corrupt gzip data ({err})") from None


def decode_idx(content: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the uncompressed bytes of an IDX file into a native-endian array.

    Args:
        content: the whole file, uncompressed.
        name: what to call the file in error messages.

    Raises:
        DataError: bad magic, unknown type code, a header cut short, or a data length
            that is not exactly what the header says.
    """
    if len(content) < 4:
        raise DataError(f"{name}: file is {len(content)} bytes, too short for an IDX header "
                        "(at least 4)")
    if content[:2] != b"\x00\x00":
        hint = " (it is gzip data: decompress it first)" if content[:2] == GZIP_MAGIC else ""
        raise DataError(f"{name}: bad magic 0x{content[:2].hex()}, expected 0x0000; "
                        f"not an IDX file{hint}")
    code, ndim = content[2], content[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{name}: unknown data type code 0x{code:02X}, expected one of "
                        f"{_type_names()}")
    if ndim == 0:
        raise DataError(f"{name}: header says 0 dimensions, expected at least 1")
    header_len = 4 + 4 * ndim
    if len(content) < header_len:
        raise DataError(f"{name}: file is {len(content)} bytes but its header alone "
                        f"({ndim} dimensions) needs {header_len}")
    dims = tuple(int(d) for d in np.frombuffer(content, ">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow on odd headers
    actual = len(content) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "extra bytes at the end"
        shape = "x".join(str(d) for d in dims)
        raise DataError(f"{name}: file holds {actual} data bytes but its header ({shape}, "
                        f"{dtype.newbyteorder('=').name}) needs {expected} ({what})")
    data = np.frombuffer(content, dtype, offset=header_len)
    return data.astype(dtype.newbyteorder("=")).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed, into a native-endian array.

    Raises:
        DataError: the file is unreadable, corrupt, or not a valid IDX file; the message
            names the file and says what was wrong.
    """
    return decode_idx(read_uncompressed(path), str(path))


def encode_idx(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of ``array`` (the inverse of ``decode_idx``).

    Raises:
        DataError: the dtype has no IDX code, or the array is 0-d.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DataError(f"cannot write dtype {array.dtype} as IDX; it holds {_type_names()}")
    if not 1 <= array.ndim <= 255:
        raise DataError(f"cannot write a {array.ndim}-d array as IDX (1 to 255 dimensions)")
    header = bytes([0, 0, codes[native], array.ndim])
    header += np.array(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, native.newbyteorder(">")).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends with ``.gz``.

    The file is written atomically (``scratchnet/atomic.py``): a reader never sees a
    half-written file.
    """
    path = Path(path)
    content = encode_idx(array)
    if path.name.endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    write_atomically(path, lambda f: f.write(content))
