"""Data: the IDX file format, MNIST / Fashion-MNIST lookup, checks and download, and the
two moons (a 2-D set generated here)."""

from scratchnet.data.datasets import Dataset, as_float, load_dataset
from scratchnet.data.idx import DataError, read_idx, write_idx
from scratchnet.data.moons import two_moons

__all__ = ["DataError", "Dataset", "as_float", "load_dataset", "read_idx", "two_moons",
           "write_idx"]
