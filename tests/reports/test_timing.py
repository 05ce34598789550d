"""Tests of the timing harness: block sizes, the interleaving order, the load readings.

No speed is asserted (machines are noisy); the tests check what was run, in which order,
and that the measured numbers exist and make sense.
"""

from __future__ import annotations

import math
import mmap
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reports import timing


def test_timing_counts_its_blocks() -> None:
    t = timing.Timing(seconds=0.002, per_block=[0.001, 0.002, 0.003], calls_per_block=4)
    assert t.blocks == 3


def test_time_interleaved_alternates_the_order_of_the_blocks() -> None:
    log: list[str] = []

    def worker(name: str) -> Callable[[], None]:
        def fn() -> None:
            log.append(name)
            time.sleep(0.001)
        return fn

    timings, background = timing.time_interleaved(
        {"a": worker("a"), "b": worker("b")}, seconds=0.0, min_rounds=4,
        warmup_seconds=0.0, block_seconds=0.003, pause_seconds=0.0)

    k = {name: t.calls_per_block for name, t in timings.items()}
    assert all(calls >= 1 for calls in k.values())
    # Warm-up: three calls each (no minimum time); then 4 rounds of one block each,
    # a before b in even rounds, b before a in odd ones.
    expected = ["a"] * 3 + ["b"] * 3
    for order in (["a", "b"], ["b", "a"], ["a", "b"], ["b", "a"]):
        for name in order:
            expected += [name] * k[name]
    assert log == expected
    for t in timings.values():
        assert t.blocks == 4
        assert all(s > 0 for s in t.per_block)
        assert t.seconds == statistics.median(t.per_block)
    assert background >= 0 and math.isfinite(background)


def test_time_interleaved_counts_the_page_faults_of_each_function() -> None:
    """A function that maps 1 MiB of new memory per call and writes it (kept, so never
    reused; mapped by itself, so whatever the allocator keeps does not matter) takes a
    fault for each of its 256 pages of 4 KiB; one that allocates nothing takes none,
    though they alternate in one process."""
    kept: list[mmap.mmap] = []

    def new_memory() -> None:
        kept.append(mmap.mmap(-1, 2**20))
        kept[-1].write(bytes(2**20))

    timings, _ = timing.time_interleaved(
        {"new memory": new_memory, "none": lambda: None},
        seconds=0.0, min_rounds=4, warmup_seconds=0.0, block_seconds=0.001,
        pause_seconds=0.0)
    assert timings["new memory"].faults_per_call >= 250
    assert timings["none"].faults_per_call < 1


def test_time_interleaved_runs_until_the_time_is_up() -> None:
    timings, _ = timing.time_interleaved({"f": lambda: time.sleep(0.001)}, seconds=0.05,
                                         min_rounds=1, warmup_seconds=0.0,
                                         block_seconds=0.002, pause_seconds=0.0)
    # At most ~2 ms of sleep per block: 0.05 s need several blocks.
    assert timings["f"].blocks >= 5


def test_other_cores_counts_what_others_used() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    # Over 2 s, the machine used 3 s of CPU and this process 1 s: others used 1 core.
    assert timing._other_cores((0, 0), (3 * tick, tick), wall=2.0) == pytest.approx(1.0)
    # This process's own work is not background; rounding can never make it negative.
    assert timing._other_cores((0, 0), (tick, 2 * tick), wall=1.0) == 0.0


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_busy_ticks_see_this_process_working() -> None:
    machine0, own0 = timing._busy_ticks()
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:
        pass
    machine1, own1 = timing._busy_ticks()
    assert own1 > own0                                  # 0.2 s busy = ~20 ticks
    assert machine1 > machine0


def test_background_load_and_wait_for_quiet() -> None:
    load = timing.background_load(0.05)
    assert load >= 0 and math.isfinite(load)
    assert math.isnan(timing.wait_for_quiet(0.0))       # no timeout: no waiting, no reading
    t0 = time.perf_counter()
    load = timing.wait_for_quiet(5.0, threshold=math.inf)   # always quiet enough
    assert load >= 0 and math.isfinite(load)
    assert time.perf_counter() - t0 < 2.0               # one reading of 0.5 s, not 5 s


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matmul_peak_is_a_positive_rate(dtype: str) -> None:
    gflops = timing.matmul_peak_gflops(dtype, size=64, repeats=2)
    assert gflops > 0 and math.isfinite(gflops)


FAULTS_OF_A_FRESH_BLOCK = """
import numpy as np
from reports.timing import keep_freed_memory, minor_faults

def faults_of_a_fresh_block():
    np.ones(8 * 2**20).sum()          # 64 MiB allocated, touched, freed
    before = minor_faults()
    np.ones(8 * 2**20).sum()          # the same size again
    return minor_faults() - before

print(faults_of_a_fresh_block(), keep_freed_memory(), faults_of_a_fresh_block())
"""


def test_kept_memory_is_reused_without_page_faults() -> None:
    """In a fresh process (the setting lasts for the rest of a process): by default glibc
    unmaps a freed 64 MiB block, and allocating it again faults every page in anew, at
    least once per 2 MiB even with huge pages; once ``keep_freed_memory`` took effect,
    the freed block is reused and its pages are still there."""
    done = subprocess.run([sys.executable, "-c", FAULTS_OF_A_FRESH_BLOCK], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).parents[2])
    default, kept, after = done.stdout.split()
    assert kept == "True"
    assert int(after) < 32 <= int(default), done.stdout
