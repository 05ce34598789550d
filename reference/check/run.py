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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reference.check.battery import battery
from reference.guard import (
    USER_ERRORS,
    NotSupportedError,
    quiet,
    raised,
)
from reference.kinds import KINDS, Configuration
from reference.kinds.data import Data
from reference.kinds.procedures import procedure_of
from reference.kinds.record import Run
from reference.mistakes import Mistake


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

    def without(self, names: Collection[str]) -> Prepared:
        """This battery without the configurations called ``names`` (a grader's excluded
        or hidden ones), its data and PyTorch's numbers as they are."""
        keep = [i for i, c in enumerate(self.configs) if c.name not in names]
        return Prepared(self.kind, [self.configs[i] for i in keep],
                        [self.datas[i] for i in keep], [self.references[i] for i in keep])

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
    except USER_ERRORS as err:
        return Run(unsupported=raised("its constructor", err))
    run = run_layer(impl, kind, data, quantities, config.contiguous,
                    finite_differences and config.differentiable, thorough=thorough)
    if thorough and run.error is None:
        try:
            again = run_layer(built(), kind, data, quantities, config.contiguous)
        except USER_ERRORS as err:
            again = Run(error=raised("its constructor", err))
        run.unstable = [q for q, value in run.values.items()
                        if not _identical(value, again.values.get(q))]
    return run


def reference_run(kind: str, config: Configuration,
                  rng: np.random.Generator) -> tuple[Data, dict[str, np.ndarray]]:
    """``config``'s data, drawn from ``rng``, and PyTorch's quantities on it (their keys, in
    order, are the quantities a layer of ``kind`` is checked in)."""
    return procedure_of(KINDS[kind]).reference(KINDS[kind], config, rng)


def run_layer(impl: Any, kind: str, data: Data, quantities: list[str], contiguous: bool = True,
              finite_differences: bool = False, dtype: np.dtype | type = np.float64,
              thorough: bool = False) -> Run:
    """Set ``data.weights`` (of ``dtype``) into the built implementation ``impl``, run it on
    ``data`` (the input as a non-contiguous view unless ``contiguous``) and record
    ``quantities``, with finite differences of its gradients if asked, and (``thorough``)
    whether the calls changed the arrays they were given."""
    run = Run()
    with quiet():
        try:
            problem = set_weights(impl, data.weights, dtype)
        except USER_ERRORS as err:                   # a params property that raises
            run.stop(quantities, "reading its params", err)
            return run
        if problem is not None:
            run.error, run.protocol = problem, True
            run.fail(quantities, problem)
        else:
            procedure_of(KINDS[kind]).run(impl, data, quantities, run, contiguous,
                                          finite_differences, thorough)
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


