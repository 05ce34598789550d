"""Where a report ran: the CPU, library versions, thread settings and the commit.

Both reports (``reports/accuracy.py`` and ``reports/bench.py``) print these in their
headers, so that a figure can be traced to the machine and code that produced it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def machine_line() -> str:
    """The machine in a few words, e.g. ``2 cores, Intel(R) Xeon(R) Processor, Linux x86_64``."""
    return f"{os.cpu_count()} cores, {cpu_model()}, {platform.system()} {platform.machine()}"


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries the results depend on."""
    return {"Python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "pandas": pd.__version__}


def blas_name() -> str:
    """The BLAS NumPy was built with, e.g. ``scipy-openblas 0.3.31``."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (TypeError, KeyError):
        return "unknown"
    return f"{blas.get('name')} {blas.get('version')}"


def _openblas_threads() -> str | None:
    """NumPy's OpenBLAS thread count, asked through ctypes (read-only); None if unknown."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                       "openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(lib, symbol):
                return f"{getattr(lib, symbol)()} (OpenBLAS, {Path(path).name})"
    return None


def thread_info() -> dict[str, str]:
    """Thread counts of torch and of NumPy's BLAS (threadpoolctl if installed)."""
    info = {"torch threads (intra-op / inter-op)":
            f"{torch.get_num_threads()} / {torch.get_num_interop_threads()}"}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threads = _openblas_threads()
        info["numpy BLAS threads"] = threads or "unknown (threadpoolctl not installed)"
    else:
        for lib in threadpool_info():
            info[f"threadpoolctl: {lib.get('internal_api')} ({lib.get('prefix')})"] = (
                f"{lib.get('num_threads')} threads, version {lib.get('version')}")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        info[var] = os.environ.get(var, "not set")
    return info


def git_info() -> str:
    """The commit benchmarked: HEAD, the last commit that changed ``scratchnet/``, and a
    warning if ``scratchnet/`` has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent.parent,
                              timeout=10).stdout.strip()

    try:
        head = git("log", "-1", "--format=%h")
        last = git("log", "-1", "--format=%h %s", "--", "scratchnet")
        dirty = git("status", "--porcelain", "--", "scratchnet")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    last = last if len(last) <= 70 else last[:67] + "..."
    text = f"HEAD {head}; scratchnet/ last changed in {last}"
    return text + (" + UNCOMMITTED changes in scratchnet/" if dirty else "")
