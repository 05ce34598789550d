"""Check anyone's layer against PyTorch, and name the mistake when it is wrong.

``check_layer(cls, kind)`` builds ``cls`` (any class following the layer protocol,
``scratchnet.layers.base.LayerProtocol``) in every configuration of the kind's battery
(``battery.py``), gives it random float64 weights, input and upstream gradient, and
compares its output, input gradient and every parameter gradient with PyTorch's under the
project's one rule (``reference.agreement``), and its gradients, independently, with
central finite differences of its own forward pass. When something disagrees, the
catalogue's mistakes of that kind run on the same arrays and those reproducing the numbers
are named (``diagnosis.py``)::

    report = check_layer(MyConv2D, "conv2d")
    print(report)            # verdict and diagnosis; report.table has every row
    assert_layer_correct(MyConv2D, "conv2d")    # for a course's tests

``check_network(net, x, labels)`` does the same for a whole ``Sequential``: ``compare``, and
the diagnosis for the first layer that parts from PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reference.check.battery import CHECKED_KINDS, RANDOM_CONFIGURATIONS
from reference.check.diagnosis import Finding, diagnose, same_outcome, where
from reference.check.report import COLUMNS, LayerReport, fd_only_lines, row, verdict
from reference.check.run import (
    Run,
    input_quantity,
    one_torch_thread,
    output_quantity,
    prepare,
    quiet,
    raised,
    run_implementation,
    set_weights,
)
from reference.compare import compare_traced, format_comparison
from reference.mistakes import of_kind
from reference.twin import conv_settings, dense_settings, pool_settings
from scratchnet import Sequential


def protocol_problem(cls: Any, kind: str) -> str | None:
    """What keeps ``cls`` from being checked as ``kind``, in one sentence, or None."""
    if kind not in CHECKED_KINDS:
        return f"unknown kind {kind!r}: expected one of {', '.join(CHECKED_KINDS)}"
    if not isinstance(cls, type):
        return f"{cls!r} is not a class"
    call = "forward(logits, labels) and backward()" if kind == "softmax-ce" else \
        "forward(x) and backward(grad_y)"
    for method in ("forward", "backward"):
        if not callable(getattr(cls, method, None)):
            return (f"{cls.__name__} has no {method} method: a {kind} needs {call} "
                    f"(see scratchnet.layers.base.LayerProtocol)")
    return None


def check_layer(cls: type, kind: str, random_configurations: int = RANDOM_CONFIGURATIONS,
                seed: int = 0) -> LayerReport:
    """Check ``cls`` as a layer (or loss) of ``kind`` against PyTorch; see the module.

    Args:
        cls: the class; it is built as scratchnet's class of the kind is
            (``LayerProtocol``), and configurations needing keyword arguments it does not
            take are reported as not supported by it.
        kind: ``"conv2d"``, ``"maxpool2d"``, ``"dense"``, ``"relu"`` or ``"softmax-ce"``.
        random_configurations: random configurations after the named ones (0: the named
            ones only, a lighter battery).
        seed: seeds the random configurations and every array.

    Raises:
        ValueError: for an unknown kind; TypeError: when ``cls`` is not a class with
        ``forward`` and ``backward``.
    """
    problem = protocol_problem(cls, kind)
    if problem is not None:
        raise (ValueError if kind not in CHECKED_KINDS else TypeError)(f"check_layer: {problem}")
    prepared = prepare(kind, random_configurations, seed)
    configs, references = prepared.configs, prepared.references
    runs = [run_implementation(cls, kind, config, data, list(reference))
            for config, data, reference in zip(configs, prepared.datas, references,
                                               strict=True)]
    rows, statuses = [], {}
    for i, (config, run, reference) in enumerate(zip(configs, runs, references, strict=True)):
        for q, value in reference.items():
            rows.append(row(config, q, run, value))
            statuses[i, q] = rows[-1]["status"]
    table = pd.DataFrame(rows, columns=COLUMNS)
    checked = sum(run.unsupported is None for run in runs)
    wrong = (table["agrees"] == False) | (table["fd_agrees"] == False)  # noqa: E712
    passed = checked > 0 and not wrong.any()
    findings = [] if passed else diagnose(kind, configs, [d.x for d in prepared.datas], runs,
                                          references, statuses, prepared.variant_run)
    lines = [line for f in findings for line in f.lines(kind)] + fd_only_lines(table, kind)
    return LayerReport(
        cls.__name__, kind, table, passed,
        verdict(cls.__name__, kind, table, checked, len(configs)), lines, findings,
        {c.name: run.unsupported for c, run in zip(configs, runs, strict=True)
         if run.unsupported is not None})


def assert_layer_correct(cls: type, kind: str, **options: Any) -> LayerReport:
    """``check_layer(cls, kind, **options)``, raising AssertionError with the verdict and
    the diagnosis as its message unless ``cls`` passes; the report when it does."""
    report = check_layer(cls, kind, **options)
    if not report.passed:
        raise AssertionError(report.text())
    return report


# ---- a whole network ------------------------------------------------------------------

@dataclass
class NetworkReport:
    """What ``check_network`` found.

    Attributes:
        table: ``reference.compare``'s table (every output and gradient against the twin).
        first_divergence: ``"<layer> <quantity>"`` of its first failing row, or None.
        finding: the diagnosis of that quantity of that layer (None when all agree).
        diagnosis: it in sentences.
    """

    table: pd.DataFrame
    first_divergence: str | None
    finding: Finding | None = None
    diagnosis: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.first_divergence is None

    @property
    def matches(self) -> list[str]:
        """The ids of the catalogued mistakes reproducing the first divergent quantity."""
        return [] if self.finding is None else [m.id for m in self.finding.matches]

    def text(self) -> str:
        return "\n".join([format_comparison(self.table), *self.diagnosis])

    def __str__(self) -> str:
        return self.text()


def layer_configuration(layer: Any, kind: str, input_shape: tuple[int, ...]
                        ) -> tuple[tuple, dict[str, Any]]:
    """The constructor arguments that build a scratchnet layer of ``kind`` (or a catalogued
    variant) computing what the protocol layer ``layer`` computes on inputs of
    ``input_shape`` (its batch axis included)."""
    dtype = next(iter(getattr(layer, "params", {}).values()), np.zeros(0)).dtype
    if kind == "conv2d":
        s = conv_settings(layer)
        return ((s["in_channels"], s["out_channels"], s["kernel_size"], s["stride"],
                 s["padding"]),
                {"bias": s["bias"], "input_shape": tuple(input_shape[1:]), "dtype": dtype})
    if kind == "maxpool2d":
        s = pool_settings(layer)
        return (s["kernel_size"], s["stride"]), {}
    if kind == "dense":
        s = dense_settings(layer)
        return (s["in_features"], s["out_features"]), {"dtype": dtype}
    return (), {}


def _run_on(build: Any, weights: dict[str, np.ndarray], x: np.ndarray,
            grad_y: np.ndarray) -> Run:
    """A layer (``build()``) run on ``x`` and ``grad_y`` after ``weights`` are set."""
    run = Run()
    quantities = ["output", "grad input", *(f"grad {k}" for k in weights)]
    with quiet():
        try:
            layer = build()
        except Exception as err:
            return Run(unsupported=raised("its constructor", err))
        problem = set_weights(layer, weights)
        if problem is not None:
            run.fail(quantities, problem)
            return run
        try:
            run.values["output"] = np.array(layer.forward(x.copy()))
            run.values["grad input"] = np.array(layer.backward(grad_y.copy()))
            for key in weights:
                run.values[f"grad {key}"] = np.array(layer.grads[key])
        except Exception as err:
            run.fail(quantities, raised("the layer", err))
    return run


def check_network(net: Sequential, x: np.ndarray, labels: np.ndarray) -> NetworkReport:
    """``reference.compare`` for a ``Sequential`` of any protocol layers, and for the first
    layer that parts from PyTorch, the catalogue's mistakes of its kind run on the very
    input, weights and upstream gradient it had: those that reproduce its numbers are
    named."""
    with one_torch_thread():
        table, trace = compare_traced(net, x, labels)
    first = table.attrs["first_divergence"]
    if first is None:
        return NetworkReport(table, None)
    bad = table[~table["passed"]].iloc[0]
    name, q = bad["layer"], bad["quantity"]
    layer = net.layers[name]
    kind = getattr(layer, "kind", None)
    dtype = np.dtype(table.attrs["dtype"])
    finding = Finding(q, where(kind, q), "on this batch",
                      f"max abs error {bad['max_abs_err']:.3g} > {bad['tolerance']:.3g}", 1, 1)
    layer_input, upstream = trace[name]
    weights = {k: np.array(v) for k, v in layer.params.items()}
    if kind in CHECKED_KINDS:
        theirs = _run_on(lambda: layer, weights, layer_input, upstream)
        args, kwargs = layer_configuration(layer, kind, layer_input.shape)
        for mistake in of_kind(kind):
            variant = _run_on(lambda m=mistake: m.variant(*args, **kwargs), weights,
                              layer_input, upstream)
            if same_outcome(variant, theirs, q, dtype):
                finding.matches.append(mistake)
        lines = finding.lines(kind)
        lines[0] = f"{name} ({type(layer).__name__}): {lines[0]}"
    else:
        lines = [f"{name} ({type(layer).__name__}): {q} is wrong ({finding.where}); no "
                 f"mistakes are catalogued for its kind {kind!r}."]
    return NetworkReport(table, first, finding, lines)


__all__ = ["CHECKED_KINDS", "RANDOM_CONFIGURATIONS", "LayerReport", "NetworkReport",
           "assert_layer_correct", "check_layer", "check_network", "input_quantity",
           "output_quantity", "protocol_problem"]
