"""read_idx / write_idx: round trips, and a clear DataError for every kind of bad file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from scratchnet.data import DataError, read_idx, write_idx
from scratchnet.data.idx import decode_idx, encode_idx

rng = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (0, 4)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path: Path, dtype: type, shape: tuple[int, ...], suffix: str) -> None:
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    array = rng.uniform(info.min / 2, info.max / 2, shape).astype(dtype)
    path = tmp_path / f"a-idx{len(shape)}{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_header_is_the_mnist_layout() -> None:
    content = encode_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert content == bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5])
    big = encode_idx(np.array([1], np.int32))
    assert big == bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 0, 1])  # big-endian data


def test_big_endian_input_array(tmp_path: Path) -> None:
    array = np.array([[1.5, -2.0]], dtype=">f8")
    write_idx(tmp_path / "x", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), array)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    (tmp_path / "plain.gz").write_bytes(encode_idx(array))  # decompressed, kept its name
    (tmp_path / "packed").write_bytes(gzip.compress(encode_idx(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed"), array)


def test_write_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    write_idx(path, np.zeros(3, np.uint8))
    write_idx(path, np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(read_idx(path), np.ones((2, 2), np.float32))


@pytest.mark.parametrize("array", [np.zeros(3, np.int64), np.zeros(3, bool), np.float64(1.0)])
def test_write_rejects_what_idx_cannot_hold(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(DataError, match="cannot write"):
        write_idx(tmp_path / "x", array)
    assert list(tmp_path.iterdir()) == []


GOOD = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


BAD_FILES = [
    ("too short", b"\x00\x00", "file is 2 bytes, too short for an IDX header"),
    ("bad magic", b"\x01\x00" + GOOD[2:], "bad magic 0x0100, expected 0x0000"),
    ("gzip twice", gzip.compress(gzip.compress(GOOD)), "bad magic 0x1f8b.*it is gzip data"),
    ("bad dtype code", GOOD[:2] + b"\x07" + GOOD[3:],
     r"unknown data type code 0x07, expected one of 0x08 \(uint8\), 0x09 \(int8\)"),
    ("zero dims", GOOD[:3] + b"\x00" + GOOD[4:], "header says 0 dimensions"),
    ("cut in header", GOOD[:10],
     r"file is 10 bytes but its header alone \(3 dimensions\) needs 16"),
    ("truncated", GOOD[:-1],
     r"holds 23 data bytes but its header \(2x3x4, uint8\) needs 24 \(truncated\)"),
    ("trailing bytes", GOOD + b"\x00",
     r"holds 25 data bytes .* needs 24 \(extra bytes at the end\)"),
    ("wrong ndim", GOOD[:3] + b"\x04" + GOOD[4:],
     r"holds 20 data bytes but its header \(2x3x4x66051, uint8\) needs 1585224"),
    ("huge dims", bytes([0, 0, 0x0E, 3]) + b"\xff" * 12,
     r"holds 0 data bytes but its header \(4294967295x4294967295x4294967295, float64\) needs "
     + str(8 * (2**32 - 1) ** 3)),
]


@pytest.mark.parametrize("content, message", [pytest.param(c, m, id=i) for i, c, m in BAD_FILES])
@pytest.mark.parametrize("compress", [False, True])
def test_bad_files_raise_data_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str, compress: bool
) -> None:
    path = tmp_path / ("train-images-idx3-ubyte.gz" if compress else "train-images-idx3-ubyte")
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text


def test_dtype_sizes_count_in_the_length_check() -> None:
    content = encode_idx(np.zeros((2, 2), np.float64))
    with pytest.raises(DataError, match=r"holds 31 data bytes .*\(2x2, float64\) needs 32"):
        decode_idx(content[:-1], "f.idx")


@pytest.mark.parametrize("damage", ["truncated stream", "flipped byte", "bad crc"])
def test_corrupt_gzip_is_a_data_error(tmp_path: Path, damage: str) -> None:
    packed = bytearray(gzip.compress(encode_idx(rng.integers(0, 256, 5000, dtype=np.uint8))))
    if damage == "truncated stream":
        packed = packed[: len(packed) // 2]
    elif damage == "flipped byte":
        packed[len(packed) // 2] ^= 0xFF
    else:
        packed[-8] ^= 0x01  # the CRC32 in the trailer
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="corrupt gzip data") as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.gz: cannot read it"):
        read_idx(tmp_path / "nope.gz")
