"""The timing harness of the benchmark: interleaved blocks with pauses, and the machine's load.

Why interleaved blocks (see ``the workplace's shared/notes/performance.md``): the machines
are small (2 cores) and shared, and their speed drifts over seconds. Timing one function for
ten seconds and then another for ten seconds would compare two different machines. So
:func:`time_interleaved` runs the functions in turns, in short *blocks* of ``k`` calls each
(``k`` chosen so a block lasts about ``BLOCK_SECONDS``), and alternates their order from
round to round, so neither always runs first. Both see the same drift, and a ratio of two
functions' times, taken round by round, cancels most of it.

Why a pause (``PAUSE_SECONDS``) after every block: OpenBLAS (NumPy's BLAS) keeps a thread
spinning for about 0.1 s after a call returns. On a 2-core machine that spinning thread
would steal a core from whatever runs next (torch, or the other NumPy function), making
the second function of a round look slower than it is. The pause lets it go to sleep first.

The other processes' load is read from ``/proc`` (:func:`background_load`): a test suite
running beside the benchmark slows OpenBLAS and OpenMP threads by up to 20x, so every
timing reports how many cores others kept busy meanwhile, and :func:`wait_for_quiet`
can wait for them to finish. Thread settings are never changed here.

:func:`keep_freed_memory` makes the C allocator keep what is freed, so that neither
framework's time includes page faults for memory it had a moment before.

:func:`matmul_peak_gflops` measures what NumPy's BLAS reaches on one large matrix product,
the yardstick for the GFLOP/s of a network.
"""

from __future__ import annotations

import ctypes
import math
import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")

BLOCK_SECONDS = 0.075              # target length of one timed block
PAUSE_SECONDS = 0.12               # rest after every block (OpenBLAS spins ~0.1 s)
MATMUL_SIZE = 2048                 # matrix size of the matmul peak


@dataclass
class Timing:
    """Seconds per call of one function: the median over its timed blocks, and every block's.

    ``per_block[r]`` is the block of round ``r``, so two Timings of the same
    :func:`time_interleaved` call can be compared round by round.
    """

    seconds: float
    per_block: list[float]
    calls_per_block: int
    faults_per_call: float = 0.0   # page faults of the whole process per call, timed blocks

    @property
    def blocks(self) -> int:
        return len(self.per_block)


def _busy_ticks() -> tuple[int, int]:
    """(CPU ticks used by the whole machine, by this process) so far; (0, 0) if unknown."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
        # user nice system idle iowait irq softirq steal: busy = all but idle and iowait
        machine = sum(fields[:8]) - fields[3] - fields[4]
        return machine, int(own[11]) + int(own[12])       # utime + stime (all threads)
    except (OSError, IndexError, ValueError):
        return 0, 0


def _other_cores(before: tuple[int, int], after: tuple[int, int], wall: float) -> float:
    """Average cores used by other processes between two :func:`_busy_ticks` readings."""
    busy = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, busy / os.sysconf("SC_CLK_TCK") / wall)


def background_load(seconds: float = 0.5) -> float:
    """Cores kept busy by *other* processes over the next ``seconds`` (from /proc)."""
    before, t0 = _busy_ticks(), time.perf_counter()
    time.sleep(seconds)
    return _other_cores(before, _busy_ticks(), time.perf_counter() - t0)


def with_background(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()``'s result and the cores other processes kept busy while it ran."""
    before, start = _busy_ticks(), time.perf_counter()
    result = fn()
    return result, _other_cores(before, _busy_ticks(), time.perf_counter() - start)


def wait_for_quiet(timeout: float, threshold: float = 0.2) -> float:
    """Wait up to ``timeout`` s until other processes use under ``threshold`` cores.

    Returns the last background load seen. The machines are shared: a test suite running
    beside the benchmark slows both frameworks, OpenBLAS and torch's OpenMP alike, by up
    to 20x, and makes a row meaningless.
    """
    if timeout <= 0:
        return math.nan
    deadline = time.perf_counter() + timeout
    load = background_load()
    while load >= threshold and time.perf_counter() < deadline:
        load = background_load()
    return load


def time_interleaved(
    fns: dict[str, Callable[[], None]],
    seconds: float,
    min_rounds: int = 5,
    warmup_seconds: float = 0.5,
    block_seconds: float = BLOCK_SECONDS,
    pause_seconds: float = PAUSE_SECONDS,
) -> tuple[dict[str, Timing], float]:
    """Time each function of ``fns`` in interleaved blocks; return timings and background load.

    1. Warm-up: each function runs for ``warmup_seconds`` (at least 3 calls).
    2. Block size: ``k = round(block_seconds / t)`` calls, ``t`` the fastest warm-up call
       after the first.
    3. Rounds: one block of each function (the order alternating between rounds), with a
       pause of ``pause_seconds`` after every block, until ``seconds`` have passed and at
       least ``min_rounds`` rounds were done. The page faults taken during each function's
       blocks are counted too (:func:`minor_faults`).

    The background load is the number of cores that *other* processes kept busy on average
    while the rounds ran (from /proc/stat; 0 on a quiet machine): anything well above 0
    means the absolute times are suspect (ratios suffer less, both sides being slowed).
    """
    names = list(fns)
    calls: dict[str, int] = {}
    for name in names:
        fn, start, singles = fns[name], time.perf_counter(), []
        while len(singles) < 3 or time.perf_counter() - start < warmup_seconds:
            t0 = time.perf_counter()
            fn()
            singles.append(time.perf_counter() - t0)
        calls[name] = max(1, round(block_seconds / min(singles[1:])))  # first call: cold
        time.sleep(pause_seconds)

    per_call: dict[str, list[float]] = {name: [] for name in names}
    faults = dict.fromkeys(names, 0)
    ticks0, wall0 = _busy_ticks(), time.perf_counter()
    rounds = 0
    while rounds < min_rounds or time.perf_counter() - wall0 < seconds:
        for name in names if rounds % 2 == 0 else names[::-1]:
            fn, k = fns[name], calls[name]
            faults0, t0 = minor_faults(), time.perf_counter()
            for _ in range(k):
                fn()
            per_call[name].append((time.perf_counter() - t0) / k)
            faults[name] += minor_faults() - faults0
            time.sleep(pause_seconds)
        rounds += 1
    background = _other_cores(ticks0, _busy_ticks(), time.perf_counter() - wall0)
    timings = {name: Timing(statistics.median(per_call[name]), per_call[name], calls[name],
                            faults[name] / (calls[name] * len(per_call[name])))
               for name in names}
    return timings, background


def minor_faults() -> int:
    """Page faults this process (all its threads) took so far that read no disk: the
    kernel mapping memory it hands out, the cost :func:`keep_freed_memory` avoids."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


#: ``mallopt`` parameters of glibc's ``malloc.h``.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep the memory that is freed, for the rest of the process;
    whether it could (False where the C library is not glibc).

    By default glibc hands large blocks back to the kernel: each block above its mmap
    threshold is a mapping of its own, unmapped on ``free``, and the top of a heap is
    trimmed once enough of it is free. The next allocation of that size then touches new
    pages, and the kernel takes a page fault for every 4 KiB of them. PyTorch allocates
    its activations and temporaries afresh at every call, so on a 2-thread step or a
    1000-image inference pass it can spend more time in those faults than in its
    arithmetic; how many it takes depends on the allocation history of the process, so
    the same step's time moves between processes and between rows of one process. With
    no mapped blocks (``M_MMAP_MAX = 0``) and no trimming, freed memory is reused and
    both frameworks run without page faults after their first calls (scratchnet keeps
    its temporaries in workspaces, so it takes few either way). The process's resident
    memory stays at its peak; ``tracemalloc``'s figures do not change.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):    # no C library to load, or one without mallopt
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def matmul_peak_gflops(dtype: str, size: int = MATMUL_SIZE, repeats: int = 5) -> float:
    """GFLOP/s of NumPy's ``size x size`` matmul (2 size^3 FLOPs), median of ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(dtype) for _ in range(2))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)                                        # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(times) / 1e9
