"""Where a report ran: the CPU, library versions, thread settings and the commit.

Every report names these in its header, so that a figure can be traced to the machine
and code that produced it. They are gathered and worded here only: :func:`description`
gathers every fact (the benchmark shows it as its table), :func:`environment` keeps the
few a short header names (the accuracy report and its studies, which also store it in
their JSON), and :func:`header_line` words them.
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

TORCH_THREADS = "torch threads (intra-op / inter-op)"  # thread_info's label for torch's
#: The libraries :func:`library_versions` names, by key, as a sentence names them.
LIBRARY_NAMES = {"Python": "Python", "numpy": "NumPy", "torch": "PyTorch", "pandas": "pandas"}


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f
                         if line.startswith("flags")), set())
    except OSError:
        return set()


def vector_extensions(flags: set[str] | None = None) -> str:
    """The widest vector instructions the CPU has, as the speed figures depend on them:
    ``AVX-512``, ``AVX2 (no AVX-512)``, ``no AVX2``, or ``unknown`` without flags."""
    flags = cpu_flags() if flags is None else flags
    if not flags:
        return "unknown"
    if "avx512f" in flags:
        return "AVX-512"
    return "AVX2 (no AVX-512)" if "avx2" in flags else "no AVX2"


#: The environment under which NumPy, its OpenBLAS and PyTorch (with MKL and oneDNN) run,
#: on a CPU with AVX-512, the code they run on one with AVX2 but no AVX-512: what
#: ``scratchnet bench --isa avx2`` sets. These machines come with either kind of CPU, and
#: the speed targets hold on both (issue 24). OpenBLAS then runs its Haswell kernels, the
#: ones it picks on an AVX2 AMD EPYC (Zen) as well; the cores and caches stay this
#: machine's, so it shows the code's share of the difference, not the hardware's.
AVX2_CODE = {
    "OPENBLAS_CORETYPE": "Haswell",                              # NumPy's BLAS
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # NumPy's own loops
    "ATEN_CPU_CAPABILITY": "avx2",                               # PyTorch's own kernels
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",                           # PyTorch's BLAS
    "ONEDNN_MAX_CPU_ISA": "AVX2",                                # PyTorch's float32 convolutions
}


def limited_to_avx2() -> bool:
    """Whether this process runs under :data:`AVX2_CODE` (every setting in place)."""
    return all(os.environ.get(name) == value for name, value in AVX2_CODE.items())


def vector_code() -> str:
    """The vector code the libraries run in this process, e.g. ``NumPy up to AVX512_ICL,
    OpenBLAS SkylakeX kernels, PyTorch AVX512``; with ``, limited to AVX2 code`` under
    :data:`AVX2_CODE`. Read from the libraries themselves, so it shows whether the settings
    took effect."""
    try:
        from numpy._core import _multiarray_umath as simd  # NumPy 2
    except ImportError:
        from numpy.core import _multiarray_umath as simd  # NumPy 1
    features = getattr(simd, "__cpu_features__", {})
    targets = [t for t in getattr(simd, "__cpu_dispatch__", ()) if features.get(t)]
    numpy_code = f"NumPy up to {targets[-1]}" if targets else "NumPy baseline"
    try:
        from threadpoolctl import threadpool_info
        kernels = [lib.get("architecture") for lib in threadpool_info()
                   if lib.get("internal_api") == "openblas"]
    except ImportError:
        kernels = []
    blas = f"OpenBLAS {kernels[0]} kernels" if kernels else "OpenBLAS kernels unknown"
    text = f"{numpy_code}, {blas}, PyTorch {torch.backends.cpu.get_cpu_capability()}"
    return text + (", limited to AVX2 code (--isa avx2)" if limited_to_avx2() else "")


def _size(text: str) -> str:
    """A sysfs cache size (``1024K``) in KiB or MiB (``1 MiB``)."""
    kib = int(text.rstrip("K")) if text.endswith("K") else int(text) // 1024
    return f"{kib // 1024} MiB" if kib >= 1024 and kib % 1024 == 0 else f"{kib} KiB"


def cache_sizes(root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> str:
    """The data caches one core sees, from sysfs, e.g. ``L1d 32 KiB, L2 1 MiB, L3 32 MiB``
    (the L3 is shared by the cores); ``unknown`` where sysfs does not say."""
    found = []
    for index in sorted(Path(root).glob("index*")):
        try:
            level, kind, size = ((index / name).read_text().strip()
                                 for name in ("level", "type", "size"))
            found.append((int(level), kind, _size(size)))
        except (OSError, ValueError):
            continue
    caches = [f"L{level}{'d' if kind == 'Data' else ''} {size}"
              for level, kind, size in sorted(found) if kind != "Instruction"]
    return ", ".join(caches) or "unknown"


def machine_facts() -> dict[str, str]:
    """The CPU (model, vector extensions, caches), its cores and the operating system with
    the architecture."""
    return {"CPU": cpu_model(), "vector extensions": vector_extensions(),
            "vector code in use": vector_code(),
            "caches (per core; L3 shared)": cache_sizes(), "cores": str(os.cpu_count()),
            "system": f"{platform.system()} {platform.machine()}"}


def _cpu_details(info: dict[str, str]) -> list[str]:
    """What ``info`` says of the CPU besides its model: vector extensions (and that only
    AVX2 code ran, under :data:`AVX2_CODE`), caches."""
    details = [info[key] for key in ("vector extensions", "caches (per core; L3 shared)")
               if info.get(key)]
    if "limited to AVX2 code" in info.get("vector code in use", ""):
        details.insert(1, "run with AVX2 code only")
    return details


def cpu_line(info: dict[str, str] | None = None) -> str:
    """The CPU of ``info`` (default: this one) in a line, e.g. ``AMD EPYC, AVX-512, L1d 32
    KiB, L2 1 MiB, L3 32 MiB``: the model, then its vector extensions and caches."""
    info = machine_facts() if info is None else info
    return ", ".join([info.get("CPU", "unknown"), *_cpu_details(info)])


def machine_line(info: dict[str, str] | None = None) -> str:
    """The machine of ``info`` (default: this one) in a few words, e.g. ``2 cores,
    AMD EPYC (AVX2 (no AVX-512); L1d 32 KiB, L2 1 MiB, L3 32 MiB), Linux x86_64``."""
    info = machine_facts() if info is None else info
    details = _cpu_details(info)
    cpu = f"{info['CPU']} ({'; '.join(details)})" if details else info["CPU"]
    return f"{info['cores']} cores, {cpu}, {info['system']}"



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
    info = {TORCH_THREADS: f"{torch.get_num_threads()} / {torch.get_num_interop_threads()}"}
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


def description() -> dict[str, str]:
    """Every fact about where a report runs, by the label the benchmark's table shows it
    under: :func:`machine_facts`, :func:`library_versions` and NumPy's BLAS, the commit
    (:func:`git_info`) and the thread settings (:func:`thread_info`)."""
    return {**machine_facts(), **library_versions(), "numpy BLAS": blas_name(),
            "scratchnet commit": git_info(), **thread_info()}


def environment(info: dict[str, str] | None = None) -> dict[str, str]:
    """What a short header names of ``info`` (default: :func:`description` now): the
    library versions, the machine in a line, torch's threads and the commit."""
    info = description() if info is None else info
    return {**{name: info[name] for name in library_versions()},
            "machine": machine_line(info), "torch threads": info[TORCH_THREADS],
            "commit": info["scratchnet commit"]}


def header_line(env: dict[str, str], torch_threads: str | None = None) -> str:
    """``env`` (an :func:`environment`, maybe read back from a report's JSON) in the
    sentences a report's header gives; PyTorch's threads after the machine: ``torch_threads``
    (in words) when given, else those of ``env`` if it has them."""
    if torch_threads is None and "torch threads" in env:
        torch_threads = f"{env['torch threads']} (intra-op / inter-op)"
    threads = f"; PyTorch threads: {torch_threads}" if torch_threads is not None else ""
    versions = ", ".join(f"{LIBRARY_NAMES[name]} {env[name]}" for name in LIBRARY_NAMES
                         if name in env)
    return f"Machine: {env['machine']}{threads}. Versions: {versions}. Code: {env['commit']}."


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
