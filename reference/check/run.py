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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reference.check.battery import Data, battery, draw_data, draw_gradients, non_contiguous
from reference.check.guard import (
    NotSupportedError,
    ProtocolError,
    as_array,
    quiet,
    raised,
    user_location,
)
from reference.finite_differences import STEP, directional_derivative, fd_error, fd_tolerance
from reference.kinds import KINDS, Configuration
from reference.mistakes import Mistake
from reference.quantities import torch_layer_quantities, torch_loss_quantities
from reference.twin import twin_function


@dataclass
class Run:
    """What one implementation gave in one configuration: plain data (arrays, strings,
    numbers), so that it can come back from a process that ran the user's code.

    Attributes:
        unsupported: why the class cannot be built in this configuration (None if it can).
        values: quantity -> the array it computed.
        failures: quantity -> what happened instead of a value (an exception, a result of
            the wrong form, a missing or misshapen parameter), in words.
        skipped: quantity -> why it was not compared (its output's shape differs from
            PyTorch's, so there is no common upstream gradient; or backward gave no input
            gradient).
        fd: gradient quantity -> ``(error, tolerance)`` of the gradient against central
            finite differences of the implementation's own forward pass, along a random
            direction (missing where the function has no derivative: ties, exact zeros).
        error: what stopped the run, in words: an exception in the user's code
            (``"forward raised ValueError: ..."``) or a protocol problem (``"forward
            returned a tuple of 2: ..."``); None when it ran through.
        error_where: ``"layers.py, line 31"``: where in the user's code it was raised.
        protocol: True when ``error`` is a protocol problem, not an exception.
        no_input_grad: ``backward`` returned None: the layer gives no input gradient (as a
            network's first layer may), and it is not compared.
        warnings: what the calls did that breaks a network without changing their results
            (they wrote into their input or the upstream gradient).
        unstable: the quantities that differed between two identical runs (the layer reads
            memory it does not own, or state left from an earlier call).
    """

    unsupported: str | None = None
    values: dict[str, np.ndarray] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    fd: dict[str, tuple[float, float]] = field(default_factory=dict)
    error: str | None = None
    error_where: str | None = None
    protocol: bool = False
    no_input_grad: bool = False
    warnings: list[str] = field(default_factory=list)
    unstable: list[str] = field(default_factory=list)

    def fail(self, quantities: list[str], why: str) -> None:
        """Record ``why`` for each of ``quantities`` not computed yet."""
        for q in quantities:
            if q not in self.values and q not in self.failures:
                self.failures[q] = why

    def stop(self, quantities: list[str], what: str, err: BaseException) -> None:
        """``err`` stopped the run in ``what`` (``"forward"``, ``"backward"``): it becomes
        the run's error and the reason for each of ``quantities`` not computed."""
        if isinstance(err, ProtocolError):
            self.error, self.protocol = str(err), True
        else:
            self.error, self.error_where = raised(what, err), user_location(err)
        self.fail(quantities, self.error)


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
                finite_differences=False, extra_options=KINDS[self.kind].variant_options(config),
                thorough=False)
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


def run_implementation(build: Callable[..., Any], kind: str, config: Configuration, data: Data,
                       quantities: list[str], finite_differences: bool = True,
                       extra_options: dict[str, Any] | None = None,
                       thorough: bool = True) -> Run:
    """Build a layer with ``build`` (a class, or a style's builder) in ``config`` (with
    ``extra_options`` too), set ``data.weights``, run it forward on ``data.x`` and
    backward on ``data.grad_y``, and record ``quantities``.

    A keyword argument of the configuration that ``build`` does not take makes the
    configuration unsupported, as does a constructor that raises; ``dtype=np.float64`` is
    passed when it names a ``dtype`` argument. ``thorough`` (for anyone's code, not the
    catalogue's variants) also checks that the calls leave their input and upstream
    gradient as they were, and runs a second layer built the same way on the same data:
    results that differ between the two are reported as unstable.
    """
    options = {**config.options, **(extra_options or {})}
    missing = missing_keywords(build, list(options))
    if missing:
        return Run(unsupported=f"it takes no {' or '.join(missing)} argument")
    if "dtype" in _named_parameters(build):
        options["dtype"] = np.float64

    def built() -> Any:
        with quiet():
            return build(*config.args, **options)

    try:
        impl = built()
    except NotSupportedError as err:
        return Run(unsupported=str(err))
    except Exception as err:
        return Run(unsupported=raised("its constructor", err))
    run = run_layer(impl, kind, data, quantities, config.contiguous,
                    finite_differences and config.differentiable, thorough=thorough)
    if thorough and run.error is None:
        try:
            again = run_layer(built(), kind, data, quantities, config.contiguous)
        except Exception as err:
            again = Run(error=raised("its constructor", err))
        run.unstable = [q for q, value in run.values.items()
                        if not _identical(value, again.values.get(q))]
    return run


def run_layer(impl: Any, kind: str, data: Data, quantities: list[str], contiguous: bool = True,
              finite_differences: bool = False, dtype: np.dtype | type = np.float64,
              thorough: bool = False) -> Run:
    """Set ``data.weights`` (of ``dtype``) into the built implementation ``impl``, run it on
    ``data`` (the input as a non-contiguous view unless ``contiguous``) and record
    ``quantities``, with finite differences of its gradients if asked, and (``thorough``)
    whether the calls changed the arrays they were given."""
    run = Run()
    with quiet():
        problem = set_weights(impl, data.weights, dtype)
        if problem is not None:
            run.error, run.protocol = problem, True
            run.fail(quantities, problem)
        elif KINDS[kind].loss:
            _run_loss(impl, data, quantities, run, finite_differences, thorough)
        else:
            _run_layer(impl, data, quantities, run, contiguous, finite_differences, thorough)
    return run


def _identical(ours: np.ndarray, again: np.ndarray | None) -> bool:
    """Whether two runs' arrays are the same, bit for bit (NaNs in the same places too)."""
    return (again is not None and ours.shape == again.shape
            and bool(np.array_equal(ours, again, equal_nan=ours.dtype.kind == "f")))


def _named_parameters(build: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(build).parameters)
    except (TypeError, ValueError):
        return set()


def _changed(given: np.ndarray, original: np.ndarray, what: str, run: Run) -> None:
    """Warn when a call changed ``given``, a copy of ``original`` it was handed."""
    if not np.array_equal(given, original, equal_nan=True):
        run.warnings.append(f"{what} changes the array it is given in place: in a network "
                            f"that array is another layer's (its output or its gradient), "
                            f"which the change corrupts")


def _run_layer(layer: Any, data: Data, quantities: list[str], run: Run, contiguous: bool,
               finite_differences: bool, thorough: bool) -> None:
    x = data.x.copy() if contiguous else non_contiguous(data.x)
    try:
        run.values["output"] = as_array(layer.forward(x), "forward", "the output array")
    except Exception as err:
        run.stop(quantities, "forward", err)
        return
    if thorough:
        _changed(x, data.x, "forward", run)
    if run.values["output"].shape != data.grad_y.shape:
        for q in quantities[1:]:
            run.skipped[q] = "not compared: the output's shape differs from PyTorch's"
        return
    grad_y = data.grad_y.copy()
    try:
        grad_x = layer.backward(grad_y)
        if grad_x is None:
            run.no_input_grad = True
            run.skipped["grad input"] = ("not compared: backward returned None (no input "
                                         "gradient, as a network's first layer may)")
        else:
            run.values["grad input"] = as_array(grad_x, "backward", "the input's gradient")
    except Exception as err:
        run.stop(quantities[1:], "backward", err)
        return
    if thorough:
        _changed(grad_y, data.grad_y, "backward", run)
    grads = getattr(layer, "grads", {})
    for q in quantities[2:]:
        key = q.removeprefix("grad ")
        if not isinstance(grads, dict) or key not in grads:
            run.failures[q] = f"grads has no '{key}' after backward"
            continue
        try:
            run.values[q] = as_array(grads[key], f"grads['{key}']", "an array")
        except ProtocolError as err:
            run.failures[q] = str(err)
    if finite_differences:
        def f() -> float:
            return float(np.sum(data.grad_y * layer.forward(x.copy())))

        x = data.x.copy()
        arrays = {"grad input": x} | {q: layer.params[q.removeprefix("grad ")]
                                      for q in quantities[2:]}
        _finite_differences(f, arrays, data, run)


def _run_loss(loss: Any, data: Data, quantities: list[str], run: Run,
              finite_differences: bool, thorough: bool) -> None:
    loss_q, grad_q = quantities
    logits = data.x.copy()
    try:
        value = as_array(loss.forward(logits, data.labels.copy()), "forward", "the loss")
        if value.size != 1:
            raise ProtocolError(f"forward returned an array of shape {value.shape}: it must "
                                  f"return the loss, one number (the batch's mean)")
        run.values[loss_q] = np.float64(value.reshape(()))
    except Exception as err:
        run.stop(quantities, "forward", err)
        return
    if thorough:
        _changed(logits, data.x, "forward", run)
    try:
        run.values[grad_q] = as_array(loss.backward(), "backward", "the logits' gradient")
    except Exception as err:
        run.stop([grad_q], "backward", err)
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
