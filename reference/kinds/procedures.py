"""How a kind's check runs: a *procedure* computes PyTorch's quantities on a
configuration's data (``reference``) and runs an implementation on the same data,
recording what it computes (``run``).

Most kinds are layers, ``forward(x)`` then ``backward(grad_y)`` (``LayerProcedure``), or a
loss, ``forward(logits, labels)`` then ``backward()`` (``LossProcedure``); a kind whose
check needs more (training steps then eval mode, a random mask, optimizer steps) gives
its module a procedure of its own, usually a subclass of these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference.finite_differences import STEP, directional_derivative, fd_error, fd_tolerance
from reference.guard import USER_ERRORS, ProtocolError, as_array
from reference.kinds.data import Data, draw_data, draw_gradients, non_contiguous
from reference.kinds.kind import Configuration, Kind
from reference.kinds.record import Run
from reference.quantities import torch_layer_quantities, torch_loss_quantities
from reference.twin import twin_function


def changed(given: np.ndarray, original: np.ndarray, what: str, run: Run) -> None:
    """Warn when a call changed ``given``, a copy of ``original`` it was handed."""
    if not np.array_equal(given, original, equal_nan=True):
        run.warnings.append(f"{what} changes the array it is given in place: in a network "
                            f"that array is another layer's (its output or its gradient), "
                            f"which the change corrupts")


class LayerProcedure:
    """A layer: ``forward(x) -> y``, ``backward(grad_y) -> grad_x``, the gradients of its
    parameters in ``grads``; compared with its PyTorch twin (``Kind.twin``).

    Attributes:
        methods: what a class of the kind must have to be checked.
        protocol: how it is called, in words (completing "a relu needs ...").
    """

    methods: tuple[str, ...] = ("forward", "backward")
    protocol = "forward(x) and backward(grad_y) (see scratchnet.layers.base.LayerProtocol)"

    def where(self, kind: Kind, q: str) -> str:
        """Which part of an implementation computes ``q``, in words."""
        if q == kind.output_quantity:
            return "the forward pass"
        if q == kind.input_quantity:
            return "the backward pass: the input gradient"
        return f"the backward pass: a parameter gradient, grads['{q.removeprefix('grad ')}']"

    def reference(self, kind: Kind, config: Configuration,
                  rng: np.random.Generator) -> tuple[Data, dict[str, np.ndarray]]:
        """``config``'s data, drawn from ``rng``, and PyTorch's quantities on it (their keys,
        in order, are the quantities the layer is checked in)."""
        scratchnet_layer = kind.scratchnet(*config.args, **config.options)
        shapes = {key: p.shape for key, p in scratchnet_layer.params.items()}
        data = draw_data(kind, config, rng, shapes)
        twin = twin_function(scratchnet_layer)
        x = self.reference_input(config, data.x)
        output = torch_layer_quantities(twin, x, data.weights, None)["output"]
        draw_gradients(data, output.shape, kind.input_quantity, rng)
        return data, torch_layer_quantities(twin, x, data.weights, data.grad_y)

    def reference_input(self, config: Configuration, x: np.ndarray) -> np.ndarray:
        """The input PyTorch's quantities are computed on: ``x`` itself here; a kind whose
        layer does not change when a constant is subtracted from its input may subtract
        one, where PyTorch's kernel loses digits on ``x`` that an exact value keeps."""
        return x

    def run(self, layer: Any, data: Data, quantities: list[str], run: Run, contiguous: bool,
            finite_differences: bool, thorough: bool) -> None:
        """Run ``layer`` (weights set) on ``data`` and record ``quantities`` in ``run``;
        finite differences of its gradients if asked, and (``thorough``) whether the calls
        changed the arrays they were given."""
        x = data.x.copy() if contiguous else non_contiguous(data.x)
        try:
            run.values["output"] = as_array(layer.forward(x), "forward", "the output array")
        except USER_ERRORS as err:
            run.stop(quantities, "forward", err)
            return
        if thorough:
            changed(x, data.x, "forward", run)
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
        except USER_ERRORS as err:
            run.stop(quantities[1:], "backward", err)
            return
        if thorough:
            changed(grad_y, data.grad_y, "backward", run)
        try:
            grads = getattr(layer, "grads", {})
        except USER_ERRORS as err:                   # a grads property that raises
            run.stop(quantities[2:], "reading its grads", err)
            return
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
            fd_check(f, arrays, data, run)


class LossProcedure:
    """A loss: ``forward(logits, labels) -> float``, ``backward() -> grad_logits``;
    compared with ``F.cross_entropy``."""

    methods: tuple[str, ...] = ("forward", "backward")
    protocol = ("forward(logits, labels) and backward() (see "
                "scratchnet.layers.base.LayerProtocol)")

    def where(self, kind: Kind, q: str) -> str:
        return ("the forward pass: the loss" if q == kind.output_quantity
                else "the backward pass: the gradient of the logits")

    def reference(self, kind: Kind, config: Configuration,
                  rng: np.random.Generator) -> tuple[Data, dict[str, np.ndarray]]:
        data = draw_data(kind, config, rng, {})
        draw_gradients(data, None, kind.input_quantity, rng)
        return data, torch_loss_quantities(data.x, data.labels)

    def run(self, loss: Any, data: Data, quantities: list[str], run: Run, contiguous: bool,
            finite_differences: bool, thorough: bool) -> None:
        loss_q, grad_q = quantities
        logits = data.x.copy()
        try:
            value = as_array(loss.forward(logits, data.labels.copy()), "forward", "the loss")
            if value.size != 1:
                raise ProtocolError(f"forward returned an array of shape {value.shape}: it must "
                                      f"return the loss, one number (the batch's mean)")
            run.values[loss_q] = np.float64(value.reshape(()))
        except USER_ERRORS as err:
            run.stop(quantities, "forward", err)
            return
        if thorough:
            changed(logits, data.x, "forward", run)
        try:
            run.values[grad_q] = as_array(loss.backward(), "backward", "the logits' gradient")
        except USER_ERRORS as err:
            run.stop([grad_q], "backward", err)
            return
        if finite_differences:
            x = data.x.copy()
            fd_check(lambda: float(loss.forward(x.copy(), data.labels.copy())),
                                {grad_q: x}, data, run)


LAYER, LOSS = LayerProcedure(), LossProcedure()


def procedure_of(kind: Kind) -> LayerProcedure | LossProcedure:
    """The procedure ``kind``'s check runs: its own, or the layer's or the loss's."""
    return kind.procedure or (LOSS if kind.loss else LAYER)


def fd_check(f: Callable[[], float], arrays: dict[str, np.ndarray], data: Data,
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
        except USER_ERRORS:
            continue                      # the failure shows in the quantities themselves
        run.fd[q] = (fd_error(np.sum(grad * direction), numeric), fd_tolerance(numeric))
