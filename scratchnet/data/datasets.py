"""MNIST and Fashion-MNIST: where to find them, how to check them, how to download them.

``load_dataset(name, data_dir)`` reads the dataset from ``data_dir`` (the CLI's
``--data-dir``) when it is given, and from nowhere else: a directory the caller names that
does not exist, or does not hold a good copy, is an error, never a reason to quietly take
another copy. Without ``data_dir`` it looks in these places, in order, and takes the first
that holds all four files with the right content:

1. the environment variable ``SCRATCHNET_DATA`` (which, when set, must be a directory),
2. the user cache, ``platformdirs.user_cache_dir("scratchnet")``,
3. system copies (Debian's ``dataset-fashion-mnist`` package, for Fashion-MNIST).

For ``data_dir`` and the first two roots ``R`` it tries ``R/<name>/`` and then ``R``
itself. Each file may be plain or gzip-compressed. Checks are on the *uncompressed*
content (size and MD5), so a recompressed copy passes and a damaged one fails. Failing all
that, it downloads the files into ``<cache>/<name>/``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import pooch

from scratchnet.data.idx import DataError, decode_idx, read_uncompressed

ENV_VAR = "SCRATCHNET_DATA"
# The four arrays of a dataset, in the order of its files; also the Dataset's field names.
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxFile:
    """One file of a dataset: its name without ``.gz``, and its uncompressed size and MD5."""

    stem: str
    size: int
    md5: str


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is made of and where copies of it can be found.

    Attributes:
        files: role (one of ``ROLES``) -> the file that holds it.
        mirrors: base URLs to download ``<stem>.gz`` from, tried in order.
        system_dirs: directories where an operating-system package installs it.
    """

    files: Mapping[str, IdxFile]
    mirrors: tuple[str, ...]
    system_dirs: tuple[Path, ...] = ()


def _standard_files(sizes_md5s: list[tuple[int, str]]) -> dict[str, IdxFile]:
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    return {role: IdxFile(stem, size, md5)
            for role, stem, (size, md5) in zip(ROLES, stems, sizes_md5s, strict=True)}


# Every checksum: size and MD5 of the uncompressed content of each file.
# MNIST: the canonical release (as in the workplace's data README).
# Fashion-MNIST: computed from Debian's dataset-fashion-mnist (whose .gz files are
# recompressed); they equal the content MD5s of the official release's .gz files.
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        files=_standard_files([
            (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
            (60_008, "a25bea736e30d166cdddb491f175f624"),
            (7_840_016, "2646ac647ad5339dbf082846283269ea"),
            (10_008, "27ae3e4e09519cfbb04c329615203637"),
        ]),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
    ),
    "fashion-mnist": DatasetSpec(
        files=_standard_files([
            (47_040_016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            (60_008, "9018921c3c673c538a1fc5bad174d6f9"),
            (7_840_016, "8181f5470baa50b63fa0f6fddb340f0a"),
            (10_008, "15d484375f8d13e6eb1aabb0c3f46965"),
        ]),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    ),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset's arrays, as stored: images ``uint8`` ``(N, 1, 28, 28)``, labels ``int64``.

    Use ``as_float`` to scale the images to ``[0, 1]``. ``source`` is the directory the
    files were read from.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __repr__(self) -> str:
        shapes = ", ".join(f"{role}={getattr(self, role).shape}" for role in ROLES)
        return f"Dataset({self.name!r}, {shapes}, source={self.source!r})"


def as_float(images: np.ndarray, dtype: type | np.dtype = np.float64) -> np.ndarray:
    """Scale ``uint8`` images to floats in ``[0, 1]`` (``x / 255``, as torchvision does)."""
    dtype = np.dtype(dtype)
    if images.dtype != np.uint8:
        raise DataError(f"as_float expects uint8 images, got {images.dtype}")
    if dtype not in (np.float32, np.float64):
        raise DataError(f"as_float gives float32 or float64, not {dtype}")
    out = images.astype(dtype)
    out /= 255
    return out


def cache_dir() -> Path:
    """The user cache directory of scratchnet; downloads go to ``cache_dir() / name``."""
    return Path(platformdirs.user_cache_dir("scratchnet"))


class DataDirError(DataError):
    """The directory the caller named (``data_dir``) does not hold a good copy of the data.

    Attributes:
        directory: that directory, absolute.
        problem: what is wrong with it, e.g. ``"no such directory"``.
    """

    def __init__(self, directory: Path, problem: str) -> None:
        self.directory, self.problem = directory, problem
        super().__init__(f"data_dir {directory}: {problem}")


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """Where ``load_dataset`` looks, in order: ``(directory, why it is looked at)`` pairs.

    With ``data_dir``, only ``data_dir/<name>`` and ``data_dir``.
    """
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        root = Path(data_dir).expanduser().absolute()
        return [(root / name, "data_dir"), (root, "data_dir")]
    if os.environ.get(ENV_VAR):
        roots.append((Path(os.environ[ENV_VAR]).expanduser().absolute(), f"${ENV_VAR}"))
    roots.append((cache_dir(), "user cache"))
    dirs = [(d, origin) for root, origin in roots for d in (root / name, root)]
    dirs += [(d, "system copy") for d in _spec(name).system_dirs]
    unique: dict[Path, str] = {}
    for directory, origin in dirs:
        unique.setdefault(directory, origin)
    return list(unique.items())


def find_files(directory: Path, name: str) -> dict[str, Path]:
    """The files of dataset ``name`` present in ``directory``, by role (not checked).

    For each file the plain one is taken if it exists, else the ``.gz`` one.
    """
    found = {}
    for role, file in _spec(name).files.items():
        for path in (directory / file.stem, directory / f"{file.stem}.gz"):
            if path.is_file():
                found[role] = path
                break
    return found


def load_dataset(
    name: str, data_dir: str | os.PathLike | None = None, download: bool = True
) -> Dataset:
    """Find, check and load MNIST (``"mnist"``) or Fashion-MNIST (``"fashion-mnist"``).

    Args:
        name: which dataset; ``DATASETS`` lists them.
        data_dir: the directory to read it from (itself or its ``<name>/`` subdirectory);
            None: look in the usual places (module docstring).
        download: whether to download the files when no local copy is good (never with
            ``data_dir``).

    Raises:
        DataDirError: ``data_dir`` does not exist, holds no (or only part of a) copy, or
            its files fail their checks.
        DataError: unknown name; ``$SCRATCHNET_DATA`` is not a directory; or no good copy
            anywhere and no download. The message's first line says so; the lines after
            it list every place looked at and why each was rejected, and how to provide
            the files.
    """
    spec = _spec(name)
    if data_dir is not None:
        return _load_from_data_dir(name, spec, Path(data_dir).expanduser().absolute())
    env = os.environ.get(ENV_VAR)
    if env and not Path(env).expanduser().is_dir():
        raise DataError(f"${ENV_VAR} is {env!r}, which is not a directory; set it to the "
                        "directory that holds the data, or unset it")
    rejected: list[str] = []
    for directory, origin in search_dirs(name):
        paths = find_files(directory, name)
        if len(paths) < len(ROLES):
            rejected.append(f"{directory} ({origin}): {_missing(directory, spec, paths)}")
            continue
        try:
            arrays = {role: _load_checked(paths[role], spec.files[role]) for role in ROLES}
        except DataError as err:
            rejected.append(f"{directory} ({origin}): {err}")
            continue
        return _make_dataset(name, arrays, directory)

    target = cache_dir() / name
    if not download:
        raise DataError(_not_found_message(name, spec, rejected, "download was not allowed",
                                           ""))
    try:
        return _make_dataset(name, _download(spec, target), target)
    except (DataError, OSError) as err:  # OSError: the cache cannot be written
        raise DataError(_not_found_message(
            name, spec, rejected, f"downloading it into {target} failed",
            f"Downloading into {target} failed: {err}")) from None


def _load_from_data_dir(name: str, spec: DatasetSpec, root: Path) -> Dataset:
    """The dataset from ``root/<name>`` or ``root``, or a :class:`DataDirError`."""
    if not root.is_dir():
        raise DataDirError(root, "not a directory" if root.exists() else "no such directory")
    partial = []
    for directory, _ in search_dirs(name, root):
        paths = find_files(directory, name)
        if len(paths) == len(ROLES):
            try:
                arrays = {role: _load_checked(paths[role], spec.files[role]) for role in ROLES}
            except DataError as err:
                raise DataDirError(root, f"the {name} files in {directory} fail their "
                                         f"checks: {err}") from None
            return _make_dataset(name, arrays, directory)
        if paths:
            partial.append(f"{name} in {directory} is incomplete: "
                           f"{_missing(directory, spec, paths)}")
    raise DataDirError(root, partial[0] if partial else
                       f"holds no {name} files (looked in {root / name} and {root})")


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def _missing(directory: Path, spec: DatasetSpec, found: Mapping[str, Path]) -> str:
    if not directory.exists():
        return "no such directory"
    if not directory.is_dir():
        return "not a directory"
    if not found:
        return "none of the files"
    return "missing " + ", ".join(f.stem for role, f in spec.files.items() if role not in found)


def _load_checked(path: Path, file: IdxFile, name: str | None = None) -> np.ndarray:
    """Read ``path``, check its uncompressed size and MD5 against ``file``, and parse it.

    Errors call the file ``name`` (default: its file name).
    """
    name = path.name if name is None else name
    content = read_uncompressed(path, name)
    if len(content) != file.size:
        raise DataError(f"{name}: content is {len(content)} bytes, expected {file.size}")
    md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
    if md5 != file.md5:
        raise DataError(f"{name}: MD5 of the content is {md5}, expected {file.md5} "
                        "(the file is damaged or is not this dataset's)")
    return decode_idx(content, name)


def _make_dataset(name: str, arrays: Mapping[str, np.ndarray], source: Path) -> Dataset:
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{name} in {source}: {split} images {images.shape} and labels "
                            f"{labels.shape} do not make (N, H, W) images with N labels")
    return Dataset(
        name=name,
        train_images=arrays["train_images"][:, None],
        train_labels=arrays["train_labels"].astype(np.int64),
        test_images=arrays["test_images"][:, None],
        test_labels=arrays["test_labels"].astype(np.int64),
        source=str(source),
    )


def _download(spec: DatasetSpec, directory: Path) -> dict[str, np.ndarray]:
    """Fetch each file of ``spec`` not already good in ``directory``, checking each."""
    directory.mkdir(parents=True, exist_ok=True)
    return {role: _download_file(file, spec.mirrors, directory)
            for role, file in spec.files.items()}


def _download_file(file: IdxFile, mirrors: tuple[str, ...], directory: Path) -> np.ndarray:
    """Return the checked content of ``file``, downloading it into ``directory`` if needed.

    The cache only ever holds checked files: a download goes to ``<stem>.gz.part`` and is
    renamed to ``<stem>.gz`` once it passes; a file that fails is deleted.
    """
    for path in (directory / file.stem, directory / f"{file.stem}.gz"):
        if path.is_file():
            try:
                return _load_checked(path, file)
            except DataError:
                path.unlink()  # a bad copy in our own cache: replace it
    final = directory / f"{file.stem}.gz"
    part = directory / f"{file.stem}.gz.part"
    errors = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{file.stem}.gz"
        part.unlink(missing_ok=True)  # pooch would take a leftover as already downloaded
        try:
            _fetch(url, part)
            array = _load_checked(part, file, name=final.name)
        except (OSError, ValueError) as err:  # network errors are OSErrors; DataError a ValueError
            errors.append(f"  {url}: {str(err).splitlines()[0]}")
            part.unlink(missing_ok=True)
            continue
        os.replace(part, final)
        return array
    raise DataError(f"no mirror gave a good {file.stem}.gz:\n" + "\n".join(errors))


def _fetch(url: str, path: Path) -> None:
    """Download ``url`` to ``path`` with pooch, showing a progress bar."""
    print(f"Downloading {url}", file=sys.stderr)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # its INFO lines suggest a SHA256 check we do not use
    try:
        pooch.retrieve(url, known_hash=None, fname=path.name, path=path.parent,
                       progressbar=True)
    finally:
        logger.setLevel(level)


def _not_found_message(name: str, spec: DatasetSpec, rejected: list[str], why: str,
                       note: str) -> str:
    """The error when no copy is good: the whole problem in its first line, then details."""
    stems = [f.stem for f in spec.files.values()]
    lines = [f"No good copy of {name} was found, and {why}. Looked in:"]
    lines += [f"  {line}" for line in rejected]
    lines += [note] if note else []
    lines += [
        f"To provide the files, put {', '.join(stems[:-1])}",
        f"and {stems[-1]} (each plain or .gz) in a directory DIR or DIR/{name},",
        f"then pass --data-dir DIR or set {ENV_VAR}=DIR; or allow the download.",
    ]
    return "\n".join(lines)
