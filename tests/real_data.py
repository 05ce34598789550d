"""Where the tests find real MNIST: ``$SCRATCHNET_DATA``, else the workplace's shared copy.

CI always has ``../shared/data/mnist`` beside the repository, so the tests that need real
digits run there; elsewhere they are skipped with the reason (the data is environmental).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
SHARED_MNIST = REPO / "../shared/data/mnist"


def real_mnist_dir() -> Path | None:
    """The directory holding real MNIST, or None when this machine has none."""
    if os.environ.get("SCRATCHNET_DATA"):
        return Path(os.environ["SCRATCHNET_DATA"])
    return SHARED_MNIST if SHARED_MNIST.exists() else None


def require_real_mnist() -> Path:
    """The real-MNIST directory; skips the calling test when there is none."""
    where = real_mnist_dir()
    if where is None:
        pytest.skip("real MNIST not here: set SCRATCHNET_DATA or provide ../shared/data/mnist")
    return where
