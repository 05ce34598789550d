"""The network's BLAS threads: one while a pass runs, the program's own setting after."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from scratchnet import Dense, Sequential, seed_network, threads
from scratchnet.losses import SoftmaxCrossEntropy


def blas_threads() -> list[int]:
    """The thread count of every BLAS library loaded (NumPy's OpenBLAS here)."""
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


class Spy(Dense):
    """A Dense layer that records the BLAS threads its forward and backward ran with."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[list[int]] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.seen.append(blas_threads())
        return super().forward(x)

    def infer(self, x: np.ndarray) -> np.ndarray:
        self.seen.append(blas_threads())
        return super().forward(x)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        self.seen.append(blas_threads())
        return super().backward(grad)


def test_a_network_runs_its_passes_on_one_blas_thread_and_restores_the_setting() -> None:
    assert blas_threads()                        # NumPy's wheels carry OpenBLAS
    spy = Spy(3, 4, rng=np.random.default_rng(0))
    net = Sequential(spy)
    x = np.random.default_rng(0).standard_normal((5, 3))
    with threadpool_limits(2, user_api="blas"):  # what a program set, e.g. the default
        before = blas_threads()
        net.backward(net.forward(x))
        net.infer(x)
        after = blas_threads()
    expected = [threads.NETWORK_BLAS_THREADS] * len(before)
    assert spy.seen == [expected, expected, expected]          # forward, backward, infer
    assert after == before == [2] * len(before)


def test_a_network_run_inside_another_changes_nothing_on_the_way_out() -> None:
    with threadpool_limits(2, user_api="blas"):
        with threads.network_threads():
            inside = blas_threads()
            with threads.network_threads():                     # nested: already one
                pass
            assert blas_threads() == inside == [threads.NETWORK_BLAS_THREADS] * len(inside)
        assert blas_threads() == [2] * len(inside)


def test_the_setting_comes_back_when_a_pass_fails() -> None:
    net = seed_network("full", seed=0)
    with threadpool_limits(2, user_api="blas"):
        try:
            net.forward(np.zeros((2, 3, 28, 28)))                # three channels: refused
        except ValueError:
            pass
        else:
            raise AssertionError("a three-channel image went through a one-channel conv")
        assert blas_threads() == [2] * len(blas_threads())
    loss = SoftmaxCrossEntropy()                                # and a pass still computes
    x = np.random.default_rng(1).random((2, 1, 28, 28))
    loss.forward(net.forward(x), np.array([1, 2]))
    assert net.backward(loss.backward()).shape == x.shape
