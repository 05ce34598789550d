"""``check_network``: ``reference.compare`` for a ``Sequential`` of anyone's layers, with the
diagnosis of the first layer that parts from PyTorch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reference.check.diagnosis import Finding, same_outcome, where
from reference.check.run import one_torch_thread, run_layer
from reference.compare import compare_traced, format_comparison
from reference.kinds import KINDS
from reference.kinds.data import Data
from reference.mistakes import of_kind
from scratchnet import Sequential


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
    if kind in KINDS and not KINDS[kind].loss:         # the same arrays for every variant
        data = Data(layer_input, None, {k: np.array(v) for k, v in layer.params.items()},
                    upstream)
        quantities = ["output", "grad input", *(f"grad {k}" for k in data.weights)]
        theirs = run_layer(layer, kind, data, quantities, dtype=dtype)
        args, kwargs = KINDS[kind].rebuild(layer, layer_input.shape)
        for mistake in of_kind(kind):
            variant = mistake.variant(*args, **kwargs)
            if same_outcome(run_layer(variant, kind, data, quantities, dtype=dtype), theirs, q,
                            dtype):
                finding.matches.append(mistake)
        lines = finding.lines(kind)
        lines[0] = f"{name} ({type(layer).__name__}): {lines[0]}"
    else:
        lines = [f"{name} ({type(layer).__name__}): {q} is wrong ({finding.where}); no "
                 f"mistakes are catalogued for its kind {kind!r}."]
    return NetworkReport(table, first, finding, lines)
