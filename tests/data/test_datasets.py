"""load_dataset: lookup order, content checksums, error messages, download, and real data.

Most tests use "tiny", a fake dataset of a few 4x4 images registered in ``DATASETS``
with its own checksums, so that small self-written files can pass or fail the checks.
Downloads are served by an HTTP server on 127.0.0.1; nothing here touches the internet.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scratchnet.data import DataError, Dataset, as_float, load_dataset
from scratchnet.data import datasets as ds
from scratchnet.data.idx import encode_idx
from tests.real_data import real_dataset

STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

rng = np.random.default_rng(0)
TINY = {
    "train_images": rng.integers(0, 256, (5, 4, 4), dtype=np.uint8),
    "train_labels": np.array([0, 1, 2, 1, 0], np.uint8),
    "test_images": rng.integers(0, 256, (3, 4, 4), dtype=np.uint8),
    "test_labels": np.array([2, 2, 1], np.uint8),
}
TINY_FILES = dict(zip(ds.ROLES, STEMS, strict=True))  # role -> stem


def write_tiny(directory: Path, compress: bool = True, level: int = 9) -> Path:
    """Write tiny's four files into ``directory`` (created if needed); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for role, stem in TINY_FILES.items():
        content = encode_idx(TINY[role])
        if compress:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(content, level, mtime=0))
        else:
            (directory / stem).write_bytes(content)
    return directory


def damage(path: Path, at: int = -1) -> None:
    """Change one byte of the (uncompressed) content of ``path``, keeping its format."""
    packed = path.name.endswith(".gz")
    content = bytearray(gzip.decompress(path.read_bytes()) if packed else path.read_bytes())
    content[at] ^= 0x01
    path.write_bytes(gzip.compress(bytes(content)) if packed else bytes(content))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $SCRATCHNET_DATA, a user cache inside tmp_path, and "tiny" registered."""
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert ds.cache_dir() == tmp_path / "cache" / "scratchnet"
    files = {role: tiny_file(role) for role in TINY_FILES}
    spec = ds.DatasetSpec(files=files, mirrors=(), system_dirs=(tmp_path / "system",))
    monkeypatch.setitem(ds.DATASETS, "tiny", spec)
    return tmp_path


def tiny_file(role: str) -> ds.IdxFile:
    """The checksum table's entry for one of tiny's files."""
    content = encode_idx(TINY[role])
    return ds.IdxFile(TINY_FILES[role], len(content), hashlib.md5(content).hexdigest())


def set_mirrors(monkeypatch: pytest.MonkeyPatch, *mirrors: str) -> None:
    spec = dataclasses.replace(ds.DATASETS["tiny"], mirrors=mirrors)
    monkeypatch.setitem(ds.DATASETS, "tiny", spec)


def assert_is_tiny(data: Dataset, source: Path) -> None:
    assert data.name == "tiny" and data.source == str(source)
    for role, array in TINY.items():
        got = getattr(data, role)
        if role.endswith("images"):
            assert got.dtype == np.uint8 and got.shape == (len(array), 1, 4, 4)
            np.testing.assert_array_equal(got[:, 0], array)
        else:
            assert got.dtype == np.int64 and got.shape == (len(array),)
            np.testing.assert_array_equal(got, array)


# ---------------------------------------------------------------- lookup order


def test_data_dir_beats_env_beats_cache_beats_system(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given, shared = write_tiny(env / "given" / "tiny"), write_tiny(env / "shared" / "tiny")
    cache, system = write_tiny(env / "cache/scratchnet/tiny"), write_tiny(env / "system")
    monkeypatch.setenv("SCRATCHNET_DATA", str(env / "shared"))
    assert_is_tiny(load_dataset("tiny", data_dir=env / "given", download=False), given)
    assert_is_tiny(load_dataset("tiny", download=False), shared)
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert_is_tiny(load_dataset("tiny", download=False), cache)
    for path in cache.iterdir():
        path.unlink()
    assert_is_tiny(load_dataset("tiny", download=False), system)


@pytest.mark.parametrize("subdir", ["tiny", ""])
@pytest.mark.parametrize("how", ["data_dir", "env"])
def test_root_and_root_slash_name_both_found(
    env: Path, monkeypatch: pytest.MonkeyPatch, subdir: str, how: str
) -> None:
    root = env / "shared" / "data"
    where = write_tiny(root / subdir if subdir else root)
    for given in (root, where):  # SCRATCHNET_DATA=.../data and .../data/tiny both work
        if how == "env":
            monkeypatch.setenv("SCRATCHNET_DATA", str(given))
            data = load_dataset("tiny", download=False)
        else:
            data = load_dataset("tiny", data_dir=given, download=False)
        assert_is_tiny(data, where)


def test_root_name_beats_root(env: Path) -> None:
    write_tiny(env / "d")
    inner = write_tiny(env / "d" / "tiny")
    assert_is_tiny(load_dataset("tiny", data_dir=env / "d", download=False), inner)


def test_relative_env_path_is_reported_absolute(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = write_tiny(env / "rel" / "tiny")
    monkeypatch.chdir(env)
    monkeypatch.setenv("SCRATCHNET_DATA", "rel")
    assert_is_tiny(load_dataset("tiny", download=False), where)


@pytest.mark.parametrize("compress", [True, False])
def test_plain_gz_and_mixed_files(env: Path, compress: bool) -> None:
    where = write_tiny(env / "d", compress=compress)
    (where / f"{STEMS[1]}{'.gz' if compress else ''}").unlink()
    content = encode_idx(TINY["train_labels"])
    if compress:  # swap one file to the other form
        (where / STEMS[1]).write_bytes(content)
    else:
        (where / f"{STEMS[1]}.gz").write_bytes(gzip.compress(content))
    assert_is_tiny(load_dataset("tiny", data_dir=where, download=False), where)


# ---------------------------------------------------------------- checksums


def test_recompressed_copy_passes(env: Path) -> None:
    for level in (1, 6, 9):
        where = write_tiny(env / f"level{level}", level=level)
        assert_is_tiny(load_dataset("tiny", data_dir=where, download=False), where)
    gz_bytes = {(env / f"level{lv}" / f"{STEMS[0]}.gz").read_bytes() for lv in (1, 9)}
    assert len(gz_bytes) == 2  # the .gz bytes differ, the content does not


@pytest.mark.parametrize("compress", [True, False])
def test_damaged_file_is_skipped_with_its_reason(
    env: Path, monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    bad = write_tiny(env / "shared", compress=compress)
    name = STEMS[2] + (".gz" if compress else "")
    damage(bad / name)
    monkeypatch.setenv("SCRATCHNET_DATA", str(bad))
    cache = write_tiny(env / "cache/scratchnet/tiny")
    assert_is_tiny(load_dataset("tiny", download=False), cache)  # skipped, not fatal

    for path in cache.iterdir():
        path.unlink()
    with pytest.raises(DataError) as info:
        load_dataset("tiny", download=False)
    expected = ds.DATASETS["tiny"].files["test_images"].md5
    assert (f"{bad} ($SCRATCHNET_DATA): {name}: MD5 of the content is " in str(info.value))
    assert f"expected {expected} (the file is damaged" in str(info.value)


def test_wrong_size_is_reported_before_md5(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = write_tiny(env / "shared")
    (where / f"{STEMS[3]}.gz").write_bytes(gzip.compress(encode_idx(np.zeros(4, np.uint8))))
    monkeypatch.setenv("SCRATCHNET_DATA", str(where))
    with pytest.raises(DataError, match=f"{STEMS[3]}.gz: content is 12 bytes, expected 11"):
        load_dataset("tiny", download=False)


def test_corrupt_gzip_is_skipped_with_its_reason(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = write_tiny(env / "shared")
    path = where / f"{STEMS[0]}.gz"
    path.write_bytes(path.read_bytes()[:-10])
    monkeypatch.setenv("SCRATCHNET_DATA", str(where))
    with pytest.raises(DataError, match=r"corrupt gzip data \(") as info:
        load_dataset("tiny", download=False)
    assert "Traceback" not in str(info.value)


def test_bad_files_in_data_dir_are_an_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = write_tiny(env / "given")
    damage(where / f"{STEMS[0]}.gz", at=50)
    monkeypatch.setenv("SCRATCHNET_DATA", str(write_tiny(env / "shared")))  # a good copy
    with pytest.raises(ds.DataDirError) as info:
        load_dataset("tiny", data_dir=where, download=False)
    message = str(info.value)
    assert message.startswith(f"data_dir {where}: the tiny files in {where} fail their "
                              f"checks: {STEMS[0]}.gz: MD5")
    assert info.value.directory == where and "\n" not in message


@pytest.mark.parametrize(("make", "problem"), [
    (lambda d: None, "no such directory"),
    (lambda d: d.write_text("a file"), "not a directory"),
    (lambda d: d.mkdir(), "holds no tiny files (looked in {d}/tiny and {d})"),
    (lambda d: (d / "tiny").mkdir(parents=True), "holds no tiny files"),
    (lambda d: (write_tiny(d / "tiny") / f"{STEMS[2]}.gz").unlink(),
     "tiny in {d}/tiny is incomplete: missing " + STEMS[2]),
])
def test_a_named_data_dir_without_the_data_is_an_error_not_a_fallback(
    env: Path, monkeypatch: pytest.MonkeyPatch, make, problem: str
) -> None:
    """A good copy elsewhere (here in $SCRATCHNET_DATA and the cache) is never taken
    instead: the caller named where the data is, and it is not there."""
    monkeypatch.setenv("SCRATCHNET_DATA", str(write_tiny(env / "shared")))
    write_tiny(env / "cache/scratchnet/tiny")
    given = env / "given"
    make(given)
    with pytest.raises(ds.DataDirError) as info:
        load_dataset("tiny", data_dir=given, download=True)
    assert str(info.value).startswith(f"data_dir {given}: " + problem.format(d=given))
    assert "\n" not in str(info.value)


def test_env_var_naming_no_directory_is_an_error(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tiny(env / "cache/scratchnet/tiny")  # a good copy that must not be taken instead
    monkeypatch.setenv("SCRATCHNET_DATA", str(env / "nowhere"))
    with pytest.raises(DataError, match=r"^\$SCRATCHNET_DATA is '.*nowhere', which is not a "
                                        r"directory; set it to .*, or unset it$"):
        load_dataset("tiny", download=False)


# ---------------------------------------------------------------- nothing found


def test_nothing_found_lists_every_place_and_why(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (env / "shared" / "tiny").mkdir(parents=True)
    damage(write_tiny(env / "shared") / f"{STEMS[1]}.gz")
    (env / "cache").mkdir()
    (env / "cache" / "scratchnet").write_text("a file, not a directory")
    monkeypatch.setenv("SCRATCHNET_DATA", str(env / "shared"))
    with pytest.raises(DataError) as info:
        load_dataset("tiny", download=False)
    lines = str(info.value).splitlines()
    # The first line alone says the whole problem; the rest are the details.
    assert lines[0] == "No good copy of tiny was found, and download was not allowed. Looked in:"
    cache = env / "cache" / "scratchnet"
    damaged = gzip.decompress((env / "shared" / f"{STEMS[1]}.gz").read_bytes())
    md5, expected = hashlib.md5(damaged).hexdigest(), ds.DATASETS["tiny"].files["train_labels"].md5
    assert lines[1:6] == [
        f"  {env / 'shared' / 'tiny'} ($SCRATCHNET_DATA): none of the files",
        f"  {env / 'shared'} ($SCRATCHNET_DATA): {STEMS[1]}.gz: MD5 of the content is "
        f"{md5}, expected {expected} "
        "(the file is damaged or is not this dataset's)",
        f"  {cache / 'tiny'} (user cache): no such directory",
        f"  {cache} (user cache): not a directory",
        f"  {env / 'system'} (system copy): no such directory",
    ]
    hint = " ".join(lines[6:])
    assert all(stem in hint for stem in STEMS)
    assert "--data-dir DIR" in hint and "SCRATCHNET_DATA=DIR" in hint
    assert "DIR/tiny" in hint and "allow the download" in hint


def test_unwritable_cache_is_reported_not_raised(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (env / "cache").mkdir()
    (env / "cache" / "scratchnet").write_text("a file, not a directory")
    set_mirrors(monkeypatch, "http://127.0.0.1:9/")  # never reached
    with pytest.raises(DataError) as info:
        load_dataset("tiny")
    target = env / "cache/scratchnet/tiny"
    lines = str(info.value).splitlines()
    assert lines[0] == (f"No good copy of tiny was found, and downloading it into {target} "
                        "failed. Looked in:")
    assert f"Downloading into {target} failed: [Errno" in str(info.value)


def test_images_and_labels_must_agree(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TINY, "train_labels", np.zeros(4, np.uint8))
    files = {role: tiny_file(role) for role in TINY_FILES}
    monkeypatch.setitem(ds.DATASETS, "tiny", dataclasses.replace(ds.DATASETS["tiny"], files=files))
    where = write_tiny(env / "d")
    with pytest.raises(DataError, match=r"train images \(5, 4, 4\) and labels \(4,\) do not"):
        load_dataset("tiny", data_dir=where, download=False)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match=r"unknown dataset 'emnist'; known: mnist, fashion-mnist"):
        load_dataset("emnist")


# ---------------------------------------------------------------- download


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory; records each requested path instead of logging it."""

    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(env: Path) -> Iterator[tuple[str, list[str], Path]]:
    """An HTTP server on 127.0.0.1 serving ``env/www``: ``(base url, requests, www)``.

    ``www/good/`` holds tiny's .gz files, ``www/bad/`` the same with one byte changed in
    the train labels, ``www/missing/`` does not exist (404).
    """
    www = env / "www"
    write_tiny(www / "good", level=1)
    damage(write_tiny(www / "bad") / f"{STEMS[1]}.gz")
    requests: list[str] = []
    handler = type("Handler", (QuietHandler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests, www
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reach 127.0.0.1 directly even if the machine sets an HTTP proxy."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def cache_listing(env: Path) -> list[str]:
    root = env / "cache"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_download_skips_failing_mirrors_and_keeps_only_good_files(
    env: Path, server: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, requests, _ = server
    set_mirrors(monkeypatch, f"{base}/missing/", f"{base}/bad", f"{base}/good/")
    data = load_dataset("tiny")
    cache = env / "cache" / "scratchnet" / "tiny"
    assert_is_tiny(data, cache)
    # Each file: the 404 mirror, then the bad mirror; only train-labels is bad there.
    assert requests == [
        f"/missing/{STEMS[0]}.gz", f"/bad/{STEMS[0]}.gz",
        f"/missing/{STEMS[1]}.gz", f"/bad/{STEMS[1]}.gz", f"/good/{STEMS[1]}.gz",
        f"/missing/{STEMS[2]}.gz", f"/bad/{STEMS[2]}.gz",
        f"/missing/{STEMS[3]}.gz", f"/bad/{STEMS[3]}.gz",
    ]
    assert cache_listing(env) == sorted(f"scratchnet/tiny/{s}.gz" for s in STEMS)
    good_labels = (env / "www" / "good" / f"{STEMS[1]}.gz").read_bytes()
    assert (cache / f"{STEMS[1]}.gz").read_bytes() == good_labels

    requests.clear()
    assert_is_tiny(load_dataset("tiny", download=False), cache)  # now found in the cache
    assert_is_tiny(load_dataset("tiny"), cache)
    assert requests == []


def test_failed_download_leaves_nothing_and_says_why(
    env: Path, server: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, requests, www = server
    for path in (www / "good").iterdir():  # the second mirror: train-labels cut short
        if path.name.startswith(STEMS[1]):
            path.write_bytes(path.read_bytes()[:-10])
    set_mirrors(monkeypatch, f"{base}/missing/", f"{base}/good/", f"{base}/bad/")
    with pytest.raises(DataError) as info:
        load_dataset("tiny")
    message = str(info.value)
    cache = env / "cache" / "scratchnet"
    lines = message.splitlines()
    start = lines.index(f"Downloading into {cache / 'tiny'} failed: "
                        f"no mirror gave a good {STEMS[1]}.gz:")
    assert lines[start + 1].startswith(f"  {base}/missing/{STEMS[1]}.gz: 404")
    assert lines[start + 2].startswith(f"  {base}/good/{STEMS[1]}.gz: {STEMS[1]}.gz: corrupt gzip")
    assert lines[start + 3].startswith(f"  {base}/bad/{STEMS[1]}.gz: {STEMS[1]}.gz: MD5")
    assert lines[1].endswith("(user cache): no such directory")
    # Only the train images were good; no bad, partial or temporary file is left, not
    # even from the last mirror tried.
    assert cache_listing(env) == [f"scratchnet/tiny/{STEMS[0]}.gz"]
    assert requests[-1] == f"/bad/{STEMS[1]}.gz"  # stopped at the first file it lacks


def test_download_replaces_bad_cache_files_and_keeps_good_ones(
    env: Path, server: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, requests, _ = server
    cache = write_tiny(env / "cache" / "scratchnet" / "tiny", compress=False)
    damage(cache / STEMS[2])
    (cache / STEMS[3]).unlink()
    set_mirrors(monkeypatch, f"{base}/good/")
    assert_is_tiny(load_dataset("tiny"), cache)
    assert requests == [f"/good/{STEMS[2]}.gz", f"/good/{STEMS[3]}.gz"]
    assert cache_listing(env) == sorted(
        [f"scratchnet/tiny/{STEMS[0]}", f"scratchnet/tiny/{STEMS[1]}",
         f"scratchnet/tiny/{STEMS[2]}.gz", f"scratchnet/tiny/{STEMS[3]}.gz"])


def test_no_download_when_not_allowed(
    env: Path, server: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, requests, _ = server
    set_mirrors(monkeypatch, f"{base}/good/")
    with pytest.raises(DataError, match="download was not allowed"):
        load_dataset("tiny", download=False)
    assert requests == [] and not (env / "cache").exists()


# ---------------------------------------------------------------- the table, as_float


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_table_holds_the_standard_files(name: str) -> None:
    files = ds.DATASETS[name].files
    assert list(files) == list(ds.ROLES) and [f.stem for f in files.values()] == STEMS
    assert [f.size for f in files.values()] == [16 + 60000 * 784, 8 + 60000,
                                                16 + 10000 * 784, 8 + 10000]
    md5s = [f.md5 for f in files.values()]
    assert len(set(md5s)) == 4 and all(len(m) == 32 and int(m, 16) >= 0 for m in md5s)
    assert all(m.endswith("/") and m.startswith("http") for m in ds.DATASETS[name].mirrors)


def test_as_float_scales_to_unit_interval() -> None:
    images = np.array([[0, 1, 128, 255]], np.uint8)
    for dtype in (np.float32, np.float64):
        out = as_float(images, dtype)
        assert out.dtype == dtype and out.shape == images.shape
        np.testing.assert_array_equal(out, images.astype(dtype) / dtype(255))
        assert out[0, 0] == 0 and out[0, -1] == 1
    assert as_float(images).dtype == np.float64


@pytest.mark.parametrize("images, dtype", [(np.zeros(3, np.int64), np.float64),
                                           (np.zeros(3, np.uint8), np.float16)])
def test_as_float_rejects_other_dtypes(images: np.ndarray, dtype: type) -> None:
    with pytest.raises(DataError, match="as_float"):
        as_float(images, dtype)


def test_dataset_is_frozen(env: Path) -> None:
    data = load_dataset("tiny", data_dir=write_tiny(env / "d"), download=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "other"  # type: ignore[misc]
    assert repr(data).startswith("Dataset('tiny', train_images=(5, 1, 4, 4), train_labels=(5,)")


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    return real_dataset("mnist")


@pytest.fixture(scope="module")
def fashion() -> Dataset:
    return real_dataset("fashion-mnist")


def check_shapes(data: Dataset) -> None:
    assert data.train_images.shape == (60000, 1, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (10000, 1, 28, 28) and data.test_images.dtype == np.uint8
    assert data.train_labels.shape == (60000,) and data.train_labels.dtype == np.int64
    assert data.test_labels.shape == (10000,) and data.test_labels.dtype == np.int64
    assert data.train_images.max() == 255 and data.train_images.min() == 0


def test_real_mnist(mnist: Dataset) -> None:
    check_shapes(mnist)
    assert np.bincount(mnist.train_labels).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.test_labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_fashion_mnist(fashion: Dataset) -> None:
    # On these machines it comes from Debian's package, whose recompressed .gz files must
    # pass the content checksums; elsewhere from the cache or a download.
    check_shapes(fashion)
    assert np.bincount(fashion.train_labels).tolist() == [6000] * 10
    assert np.bincount(fashion.test_labels).tolist() == [1000] * 10
