"""What one implementation gave in one configuration (``Run``): plain data, so that it can
come back from a process that ran the user's code."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reference.guard import ProtocolError, raised, user_location


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
