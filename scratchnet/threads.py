"""How many threads NumPy's BLAS runs while a network computes: one.

``Sequential`` runs its forward, backward and inference passes inside
:func:`network_threads`, which sets NumPy's BLAS (OpenBLAS in NumPy's wheels) to
``NETWORK_BLAS_THREADS`` threads for the pass and puts the previous count back after it,
so the rest of a program keeps its own setting. This is the one place the policy is
stated; the measurements behind it are in ``reports/speed/history.md`` ("Threads").

Why one thread. The seed network's products are small (a conv2 row at batch 64 is
``(8, 100) @ (100, 512)``), and a training step makes a few dozen of them. With two
threads, OpenBLAS splits each product above its own size threshold between the caller
and a second thread and waits for that thread at the end of every call. On a quiet
2-core machine that buys little (one thread took 0.95-1.1 of two threads' time at
batches 1-64, more at 256; the history gives the figures and the CPU). When another
process keeps a core busy, as a browser or a test suite does on a laptop, the second
thread must wait for the scheduler at every call, and a step takes several times its
quiet time (a batch-64 step 2.6x on an AVX2 EPYC, 10x and more here); with one thread it
runs at its quiet speed on the core it has. Splitting by call size (two threads for the
large products only) does not escape this: the large products are the ones that wait.

What is not covered: a layer called on its own (``Conv2D.forward``) runs with whatever
the program set; the setting is process-wide, so two networks run from two Python
threads at once set and restore it over each other (they still compute right).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

#: NumPy's BLAS threads while a network runs a pass (see the module docstring).
NETWORK_BLAS_THREADS = 1


@functools.cache
def _blas_libraries() -> tuple:
    """threadpoolctl's handles on the BLAS libraries loaded now (found once: scanning the
    process's libraries takes about a millisecond); empty without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:                                  # a dependency; but run without it
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextmanager
def network_threads() -> Iterator[None]:
    """Within the block, NumPy's BLAS runs ``NETWORK_BLAS_THREADS`` threads; after it, as
    many as before. Costs a few microseconds (one ``get`` and at most two ``set`` calls per
    library); nested blocks change nothing."""
    changed = []
    for lib in _blas_libraries():
        before = lib.num_threads
        if before != NETWORK_BLAS_THREADS:
            lib.set_num_threads(NETWORK_BLAS_THREADS)
            changed.append((lib, before))
    try:
        yield
    finally:
        for lib, before in changed:
            lib.set_num_threads(before)
