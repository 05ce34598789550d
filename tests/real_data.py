"""Real MNIST and Fashion-MNIST for the tests that need them.

They are found where the project's own loader looks (``$SCRATCHNET_DATA``, the user cache,
Debian's package for Fashion-MNIST), first in the workplace's ``../shared/data``, which CI
always has; failing all of those, they are downloaded into the user cache. With no copy and
no network the test FAILS with the loader's message: a test that skipped instead would let
CI stop checking real data without anyone noticing.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from scratchnet.data import DataError, Dataset, load_dataset

SHARED_DATA = (Path(__file__).parents[1] / "../shared/data").resolve()


@functools.cache
def real_dataset(name: str) -> Dataset:
    """``load_dataset(name)``, looking in ``../shared/data`` first; fails the test if none."""
    try:
        shared = (SHARED_DATA / name).is_dir()  # a named data_dir must hold the dataset
        return load_dataset(name, data_dir=SHARED_DATA if shared else None)
    except DataError as err:
        pytest.fail(f"real {name} is needed and could not be had: {err}")


def require_real_mnist() -> Path:
    """The directory holding real MNIST (checked against its checksums)."""
    return Path(real_dataset("mnist").source)
