"""One configuration, run: PyTorch's numbers, an implementation's, and its finite differences.

``reference_run`` draws a configuration's data and computes what PyTorch computes on it;
``run_implementation`` builds a class in that configuration, gives it the same weights,
input and upstream gradient, and records each quantity it computes, or what went wrong
instead (a constructor that does not take the configuration, an exception, a missing
gradient), and checks its gradients against central finite differences of its own forward
pass. The implementation is anyone's code: every call into it is guarded.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reference.check.battery import Data, battery, draw_data, draw_gradients, non_contiguous
from reference.finite_differences import STEP, directional_derivative, fd_error, fd_tolerance
from reference.kinds import KINDS, Configuration
from reference.mistakes import Mistake
from reference.quantities import torch_layer_quantities, torch_loss_quantities
from reference.twin import twin_function


@dataclass
class Run:
    """What one implementation gave in one configuration.

    Attributes:
        unsupported: why the class cannot be built in this configuration (None if it can).
        values: quantity -> the array it computed.
        failures: quantity -> what happened instead of a value (an exception, a missing or
            misshapen parameter).
        skipped: quantity -> why it was not compared (its output's shape differs from
            PyTorch's, so there is no common upstream gradient).
        fd: gradient quantity -> ``(error, tolerance)`` of the gradient against central
            finite differences of the implementation's own forward pass, along a random
            direction (missing where the function has no derivative: ties, exact zeros).
    """

    unsupported: str | None = None
    values: dict[str, np.ndarray] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    fd: dict[str, tuple[float, float]] = field(default_factory=dict)

    def fail(self, quantities: list[str], why: str) -> None:
        for q in quantities:
            if q not in self.values and q not in self.failures:
                self.failures[q] = why


@contextmanager
def quiet() -> Iterator[None]:
    """No floating-point warnings from the code under check (its results show them)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def raised(what: str, err: BaseException) -> str:
    """``"<what> raised <Type>: <first line of the message>"``."""
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{what} raised {type(err).__name__}" + (f": {message[:200]}" if message else "")


def missing_keywords(cls: type, names: list[str]) -> list[str]:
    """The keyword arguments among ``names`` that ``cls``'s constructor does not take."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):           # no signature to read: try them all
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return []
    takes = {p.name for p in parameters
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return [name for name in names if name not in takes]


def set_weights(layer: Any, weights: dict[str, np.ndarray],
                dtype: np.dtype | type = np.float64) -> str | None:
    """Write ``weights`` into ``layer.params``' arrays in place; what is wrong if it cannot
    (keys or shapes not PyTorch's, arrays not of ``dtype``), else None."""
    if not weights:
        return None
    params = getattr(layer, "params", None)
    if not isinstance(params, dict):
        return f"the layer has no params dict (expected the keys {', '.join(weights)})"
    if set(params) != set(weights):
        return (f"params has the keys {sorted(params)}, expected PyTorch's "
                f"{list(weights)}")
    for key, value in weights.items():
        p = params[key]
        if not isinstance(p, np.ndarray):
            return f"params['{key}'] is a {type(p).__name__}, expected a NumPy array"
        if p.shape != value.shape:
            return f"params['{key}'] has shape {p.shape}, expected PyTorch's {value.shape}"
        if p.dtype != dtype:
            return (f"params['{key}'] is {p.dtype}: the check runs in {np.dtype(dtype)} (give "
                    f"the class a dtype argument, or make its arrays {np.dtype(dtype)})")
        p[...] = value
    return None


def reference_run(kind: str, config: Configuration,
                  rng: np.random.Generator) -> tuple[Data, dict[str, np.ndarray]]:
    """``config``'s data, drawn from ``rng``, and PyTorch's quantities on it (their keys, in
    order, are the quantities a layer of ``kind`` is checked in)."""
    input_quantity = KINDS[kind].input_quantity
    if KINDS[kind].loss:
        data = draw_data(kind, config, rng, {})
        draw_gradients(data, None, input_quantity, rng)
        return data, torch_loss_quantities(data.x, data.labels)
    scratchnet_layer = KINDS[kind].scratchnet(*config.args, **config.options)
    shapes = {key: p.shape for key, p in scratchnet_layer.params.items()}
    data = draw_data(kind, config, rng, shapes)
    twin = twin_function(scratchnet_layer)
    output = torch_layer_quantities(twin, data.x, data.weights, None)["output"]
    draw_gradients(data, output.shape, input_quantity, rng)
    return data, torch_layer_quantities(twin, data.x, data.weights, data.grad_y)


@dataclass
class Prepared:
    """A kind's battery, ready to check classes in: the configurations, their data and
    PyTorch's quantities, and the runs of the catalogue's variants (made when first
    asked for). None of it depends on the class checked, and nothing that runs a class
    changes it, so ``prepare`` makes it once per process."""

    kind: str
    configs: list[Configuration]
    datas: list[Data]
    references: list[dict[str, np.ndarray]]
    _variant_runs: dict[tuple[str, int], Run] = field(default_factory=dict)

    def variant_run(self, mistake: Mistake, i: int) -> Run:
        """``mistake``'s variant run in configuration ``i`` (no finite differences)."""
        if (mistake.id, i) not in self._variant_runs:
            config = self.configs[i]
            self._variant_runs[mistake.id, i] = run_implementation(
                mistake.variant, self.kind, config, self.datas[i], list(self.references[i]),
                finite_differences=False, extra_options=KINDS[self.kind].variant_options(config))
        return self._variant_runs[mistake.id, i]


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """PyTorch on one thread, for the battery's tiny arrays: on the 2-core machines this
    project is measured on, under load from other processes, a float64 convolution's
    forward and backward on a 2x2x6x6 input took 90-100 ms with torch's 2 threads (waking
    the second one) and 0.1 ms with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=16)
def prepare(kind: str, random_configurations: int, seed: int) -> Prepared:
    """The battery of ``kind`` (``battery.battery``) with its data drawn from ``seed`` and
    PyTorch's quantities on it."""
    configs = battery(kind, random_configurations, seed)
    datas, references = [], []
    with one_torch_thread():
        for i, config in enumerate(configs):
            data, reference = reference_run(kind, config, np.random.default_rng([seed, i]))
            datas.append(data)
            references.append(reference)
    return Prepared(kind, configs, datas, references)


def run_implementation(cls: type, kind: str, config: Configuration, data: Data,
                       quantities: list[str], finite_differences: bool = True,
                       extra_options: dict[str, Any] | None = None) -> Run:
    """Build ``cls`` in ``config`` (with ``extra_options`` too), set ``data.weights``, run it
    forward on ``data.x`` and backward on ``data.grad_y``, and record ``quantities``.

    A keyword argument of the configuration that the constructor does not take makes the
    configuration unsupported, as does a constructor that raises; ``dtype=np.float64`` is
    passed when the constructor names a ``dtype`` argument.
    """
    options = {**config.options, **(extra_options or {})}
    missing = missing_keywords(cls, list(options))
    if missing:
        return Run(unsupported=f"it takes no {' or '.join(missing)} argument")
    if "dtype" in _named_parameters(cls):
        options["dtype"] = np.float64
    with quiet():
        try:
            impl = cls(*config.args, **options)
        except Exception as err:
            return Run(unsupported=raised("its constructor", err))
    return run_layer(impl, kind, data, quantities, config.contiguous,
                     finite_differences and config.differentiable)


def run_layer(impl: Any, kind: str, data: Data, quantities: list[str], contiguous: bool = True,
              finite_differences: bool = False, dtype: np.dtype | type = np.float64) -> Run:
    """Set ``data.weights`` (of ``dtype``) into the built implementation ``impl``, run it on
    ``data`` (the input as a non-contiguous view unless ``contiguous``) and record
    ``quantities``, with finite differences of its gradients if asked."""
    run = Run()
    with quiet():
        problem = set_weights(impl, data.weights, dtype)
        if problem is not None:
            run.fail(quantities, problem)
        elif KINDS[kind].loss:
            _run_loss(impl, data, quantities, run, finite_differences)
        else:
            _run_layer(impl, data, quantities, run, contiguous, finite_differences)
    return run


def _named_parameters(cls: type) -> set[str]:
    try:
        return set(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return set()


def _run_layer(layer: Any, data: Data, quantities: list[str], run: Run, contiguous: bool,
               finite_differences: bool) -> None:
    try:
        x = data.x.copy() if contiguous else non_contiguous(data.x)
        run.values["output"] = np.array(layer.forward(x))
    except Exception as err:
        run.fail(quantities, raised("forward", err))
        return
    if run.values["output"].shape != data.grad_y.shape:
        for q in quantities[1:]:
            run.skipped[q] = "not compared: the output's shape differs from PyTorch's"
        return
    try:
        run.values["grad input"] = np.array(layer.backward(data.grad_y.copy()))
    except Exception as err:
        run.fail(quantities[1:], raised("backward", err))
        return
    grads = getattr(layer, "grads", {})
    for q in quantities[2:]:
        key = q.removeprefix("grad ")
        if not isinstance(grads, dict) or key not in grads:
            run.failures[q] = f"grads has no '{key}' after backward"
        else:
            run.values[q] = np.array(grads[key])
    if finite_differences:
        def f() -> float:
            return float(np.sum(data.grad_y * layer.forward(x.copy())))

        x = data.x.copy()
        arrays = {"grad input": x} | {q: layer.params[q.removeprefix("grad ")]
                                      for q in quantities[2:]}
        _finite_differences(f, arrays, data, run)


def _run_loss(loss: Any, data: Data, quantities: list[str], run: Run,
              finite_differences: bool) -> None:
    loss_q, grad_q = quantities
    try:
        run.values[loss_q] = np.float64(loss.forward(data.x.copy(), data.labels.copy()))
    except Exception as err:
        run.fail(quantities, raised("forward", err))
        return
    try:
        run.values[grad_q] = np.array(loss.backward())
    except Exception as err:
        run.fail([grad_q], raised("backward", err))
        return
    if finite_differences:
        x = data.x.copy()
        _finite_differences(lambda: float(loss.forward(x.copy(), data.labels.copy())),
                            {grad_q: x}, data, run)


def _finite_differences(f: Callable[[], float], arrays: dict[str, np.ndarray], data: Data,
                        run: Run) -> None:
    """For each ``quantity -> array`` whose gradient ``run`` holds: the error of that
    gradient along ``data.directions[quantity]`` against central differences of ``f``,
    perturbing ``array`` in place.

    The step is ``STEP * sqrt(max(1, max|array|))``: perturbing an entry of size ``a``
    rounds the step by about ``eps * a``, an error of ``eps * a / h`` in the difference,
    while truncation grows like ``h^2``. On the battery's logits of 800 (where a softmax
    without its max shift overflows) a step of ``STEP * 800`` was truncated to 0.7 of the
    tolerance; with the square root, scratchnet's and the plain layers stay within 0.1 of
    it in every configuration (the battery with 40 random configurations per kind).
    """
    for q, array in arrays.items():
        grad = run.values.get(q)
        if grad is None or grad.shape != array.shape or array.dtype != np.float64:
            continue
        direction = data.directions[q]
        step = STEP * np.sqrt(max(1.0, float(np.max(np.abs(array), initial=0.0))))
        try:
            numeric = directional_derivative(f, array, direction, step)
        except Exception:
            continue                      # the failure shows in the quantities themselves
        run.fd[q] = (fd_error(np.sum(grad * direction), numeric), fd_tolerance(numeric))
