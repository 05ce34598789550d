"""Data: the IDX file format, and MNIST / Fashion-MNIST lookup, checks and download."""

from scratchnet.data.datasets import DataDirError, Dataset, as_float, load_dataset
from scratchnet.data.idx import DataError, read_idx, write_idx

__all__ = ["DataDirError", "DataError", "Dataset", "as_float", "load_dataset", "read_idx",
           "write_idx"]
