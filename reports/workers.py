"""Independent jobs at the same time: one process per core, each with one thread.

The accuracy report's experiments do not depend on each other, and each trains small
networks whose operations keep two threads poorly busy: on the 2-core machines this
project targets, two experiments side by side, each with one thread, finish sooner than
the same two one after the other with two threads each. Each job runs in a fresh
(spawned) process: NumPy's BLAS and PyTorch are limited to one thread there before the
job starts (:func:`single_threaded`). Jobs get and return plain values (names, text), so
no data crosses between processes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


def single_threaded() -> None:
    """Limit this process to one thread for NumPy's BLAS (and any OpenMP) and for PyTorch."""
    threadpool_limits(1)
    torch.set_num_threads(1)


@contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, run as a worker does (:func:`single_threaded`); restore after."""
    threads = torch.get_num_threads()
    with threadpool_limits(1):
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def start_jobs(fn: Callable, jobs: Sequence[tuple], workers: int
               ) -> tuple[ProcessPoolExecutor, list[Future]]:
    """Start ``fn(*args)`` for every ``args`` in ``jobs``, in that order, on ``workers``
    single-threaded processes; the pool (shut it down when done) and one future per job."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=single_threaded,
                               mp_context=multiprocessing.get_context("spawn"))
    return pool, [pool.submit(fn, *args) for args in jobs]
