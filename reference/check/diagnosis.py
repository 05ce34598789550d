"""Diagnosis: where an implementation goes wrong, in which configurations, and which
catalogued mistake reproduces its numbers.

When a quantity disagrees with PyTorch, every catalogued mistake of the kind
(``reference.mistakes.of_kind``) runs its faulty variant on the very same configurations,
weights, inputs and upstream gradients. A mistake *matches* when its variant reproduces
the implementation's numbers (within the agreement tolerance, or the same error) in every
configuration the quantity was checked in, the right ones included: it makes that mistake
and no other in that quantity. One that reproduces only some of the wrong configurations
is named as a partial likeness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from reference.agreement import agree
from reference.kinds import KINDS, Configuration
from reference.kinds.procedures import procedure_of
from reference.kinds.record import Run
from reference.mistakes import Mistake, of_kind

#: Runs a catalogued mistake's variant in configuration ``i``: ``(mistake, i) -> Run``.
VariantRunner = Callable[[Mistake, int], Run]


def agrees_with(run: Run, reference: dict[str, np.ndarray], q: str,
                dtype: np.dtype | type = np.float64) -> bool:
    """Whether ``run``'s ``q`` agrees with ``reference[q]`` (same shape, the one rule)."""
    value = run.values.get(q)
    return (value is not None and value.shape == np.shape(reference[q])
            and agree(value, reference[q], dtype))


def same_outcome(ours: Run, theirs: Run, q: str, dtype: np.dtype | type = np.float64) -> bool:
    """Whether two runs gave the same ``q``: values that agree, or the same failure."""
    if q in ours.values and q in theirs.values:
        return agrees_with(ours, theirs.values, q, dtype)
    for outcomes in ("failures", "skipped"):
        mine, other = getattr(ours, outcomes), getattr(theirs, outcomes)
        if q in mine and q in other:
            return mine[q] == other[q]
    return False


def where(kind: str, q: str) -> str:
    """Which part of the implementation computes ``q``, in words (its kind's procedure
    says)."""
    return procedure_of(KINDS[kind]).where(KINDS[kind], q)


def which_configurations(kind: str, configs: list[Configuration], inputs: list[np.ndarray],
                         failing: list[int], checked: list[int]) -> str:
    """The configurations ``failing`` among ``checked``, in words: "in every
    configuration", "only with stride > 1" (a condition of the kind's, or two, true of
    exactly the failing ones, given their ``inputs``) or their count and names."""
    if len(failing) == len(checked):
        return "in every configuration"
    passing = [i for i in checked if i not in failing]

    def separates(pred: Callable[[Configuration, np.ndarray], bool]) -> bool:
        return (all(pred(configs[i], inputs[i]) for i in failing)
                and not any(pred(configs[i], inputs[i]) for i in passing))

    conditions = KINDS[kind].conditions
    for words, pred in conditions:
        if separates(pred):
            return f"only with {words}"
    for (words_a, a), (words_b, b) in combinations(conditions, 2):
        if separates(lambda c, x, a=a, b=b: a(c, x) and b(c, x)):
            return f"only with {words_a} and {words_b}"
    names = [configs[i].name for i in failing]
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return f"in {len(failing)} of {len(checked)} configurations ({shown})"


@dataclass
class Finding:
    """One quantity that disagrees with PyTorch for one cause, and what the diagnosis
    makes of it.

    Attributes:
        quantity: e.g. ``"grad input"``.
        where: the part of the implementation that computes it, in words.
        configurations: where it is wrong, in words (``which_configurations``).
        example: what is wrong in the first failing configuration.
        failing: how many configurations it is wrong in, of ``checked``.
        matches: the mistakes whose variants reproduce the numbers everywhere.
        partly: ``(mistake, k)``: variants reproducing them in ``k`` (not all) of the
            failing configurations.
        own_forward: for a gradient, whether it agrees with finite differences of the
            implementation's own forward pass in the failing configurations that have
            them (None when none has).
        error: the exception or protocol problem that kept the quantity from being
            computed (the same in every failing configuration), or None when it was
            computed and is wrong.
        error_where: where in the user's code ``error`` was raised.
        also: later quantities the same error kept from being computed.
        rest: the configurations left when two or more mistakes each explain a part of
            the quantity's failures (``_split``): they may be making them together.
    """

    quantity: str
    where: str
    configurations: str
    example: str
    failing: int
    checked: int
    matches: list[Mistake] = field(default_factory=list)
    partly: list[tuple[Mistake, int]] = field(default_factory=list)
    own_forward: bool | None = None
    error: str | None = None
    error_where: str | None = None
    also: list[str] = field(default_factory=list)
    rest: bool = False

    def lines(self, kind: str) -> list[str]:
        """The finding in sentences, for a person."""
        if self.error is not None:
            at = f" (at {self.error_where})" if self.error_where else ""
            lost = ", ".join([self.quantity, *self.also])
            lines = [f"It did not run {self.configurations}: {self.error}{at}; so {lost} "
                     f"could not be compared."]
        else:
            lines = [f"{self.quantity} is wrong {self.configurations} ({self.where}): "
                     f"{self.example}."]
        for mistake in self.matches:
            equation = f" (eq. {mistake.equation})" if mistake.equation else ""
            lines.append(f"  {kind} {self.quantity} matches `{mistake.id}`{equation}: "
                         f"{mistake.sentence}")
        if self.rest and not self.matches:
            lines.append(f"  No one catalogued mistake reproduces it here: the {self.quantity} "
                         f"mistakes named above may be acting together.")
        elif not self.matches and self.error is None:
            lines.append(f"  It matches none of the {len(of_kind(kind))} catalogued {kind} "
                         f"mistakes.")
            for mistake, k in self.partly:
                lines.append(f"  Partly like `{mistake.id}`: it reproduces these numbers in "
                             f"{k} of the {self.failing} wrong configurations.")
        if self.own_forward is True:
            lines.append("  It is the gradient of the implementation's own forward pass "
                         "(finite differences agree), so that forward pass is what differs.")
        elif self.own_forward is False:
            lines.append("  Nor is it the gradient of the implementation's own forward pass "
                         "(finite differences disagree): the error is in the backward pass.")
        return lines


def cause(run: Run, q: str) -> str | None:
    """What went wrong with ``q`` in ``run``: None when it was computed (and is wrong);
    else its error: for an exception raised in the user's code, its type and the line
    that raised it (the same line raising with other shapes in its message is one cause),
    for anything else the message itself."""
    failure = run.failures.get(q)
    if failure is None or run.error_where is None or failure != run.error:
        return failure
    return f"{failure.split(':')[0]} at {run.error_where}"


def causes(runs: list[Run], q: str, failing: list[int]) -> list[list[int]]:
    """``failing`` split by what went wrong with ``q`` (``cause``): one group per error,
    then one for the configurations where it was computed and is wrong. Two different
    errors, or an error and wrong numbers, are two causes, and each is diagnosed on its
    own."""
    groups: dict[str | None, list[int]] = {}
    for i in failing:
        groups.setdefault(cause(runs[i], q), []).append(i)
    return [groups[key] for key in sorted(groups, key=lambda k: (k is None, k or ""))]


def diagnose(kind: str, configs: list[Configuration], inputs: list[np.ndarray],
             runs: list[Run], references: list[dict[str, np.ndarray]],
             statuses: dict[tuple[int, str], str], run_variant: VariantRunner) -> list[Finding]:
    """A ``Finding`` for every quantity and cause that disagrees with PyTorch.

    An error that stopped a run is one finding, at the first quantity it kept from being
    computed; the later ones are listed in its ``also``. When a quantity fails for
    several causes (``causes``), each group of configurations is diagnosed apart, against
    the configurations where the quantity is right.

    Args:
        kind: the implementation's kind.
        configs, inputs, runs, references: per configuration, its input, the
            implementation's run and PyTorch's quantities.
        statuses: ``(configuration, quantity) -> what is wrong``, for the examples.
        run_variant: runs a mistake's variant in a configuration (it may be asked for the
            same pair more than once: ``Prepared.variant_run`` remembers its runs).
    """
    quantities = list(dict.fromkeys(q for ref in references for q in ref))
    findings: list[Finding] = []
    reported: dict[tuple[int, str], Finding] = {}        # (configuration, error) -> finding
    for q in quantities:
        checked = [i for i, (run, ref) in enumerate(zip(runs, references, strict=True))
                   if run.unsupported is None and q in ref and q not in run.skipped]
        failing = [i for i in checked if not agrees_with(runs[i], references[i], q)]
        passing = [i for i in checked if i not in failing]
        for group in causes(runs, q, failing):
            error = runs[group[0]].failures.get(q)
            key = cause(runs[group[0]], q)
            earlier = [reported.get((i, key)) for i in group] if error else [None]
            if earlier[0] is not None and all(f is earlier[0] for f in earlier):
                earlier[0].also.append(q)                   # the same error, reported once
                continue

            def finding_for(part: list[int], error: str | None = error, q: str = q,
                            checked: list[int] = checked,
                            passing: list[int] = passing) -> Finding:
                found = Finding(
                    q, where(kind, q),
                    which_configurations(kind, configs, inputs, part, passing + part),
                    f"{statuses[part[0], q]}, in {configs[part[0]].name!r}",
                    len(part), len(checked), error=error,
                    error_where=runs[part[0]].error_where if error else None)
                _match(found, kind, q, part, passing, runs, run_variant)
                fd = [runs[i].fd[q] for i in part if q in runs[i].fd]
                if fd:
                    found.own_forward = all(err <= tol for err, tol in fd)
                return found

            finding = finding_for(group)
            parts = [] if finding.matches or error else _split(finding, group, passing, q,
                                                               runs, run_variant)
            if error:
                reported.update({(i, key): finding for i in group})
            split = [finding_for(part) for part in parts]
            for found in split[1:]:
                found.rest = not found.matches
            findings += split if split else [finding]
    return findings


def _split(finding: Finding, group: list[int], passing: list[int], q: str, runs: list[Run],
           run_variant: VariantRunner) -> list[list[int]]:
    """When no catalogued mistake explains all of ``group``, two or more may each explain
    a part of it (a layer making two mistakes, each showing in its own configurations):
    those parts, the largest first, each reproduced by a mistake that also agrees where
    the layer is right, and the configurations none explains; [] when fewer than two
    mistakes take a part."""
    left, parts = list(group), []
    candidates = [m for m, _ in sorted(finding.partly, key=lambda mk: -mk[1])
                  if all(same_outcome(run_variant(m, i), runs[i], q) for i in passing)]
    for mistake in candidates:
        part = [i for i in left if same_outcome(run_variant(mistake, i), runs[i], q)]
        if part:
            parts.append(part)
            left = [i for i in left if i not in part]
    if len(parts) < 2:
        return []
    return parts + ([left] if left else [])


def _match(finding: Finding, kind: str, q: str, failing: list[int], passing: list[int],
           runs: list[Run], run_variant: VariantRunner) -> None:
    """Fill ``finding``'s matches (variants reproducing ``q`` in every one of ``failing``
    and ``passing``) and partial likenesses."""
    for mistake in of_kind(kind):
        reproduced = [i for i in failing if same_outcome(run_variant(mistake, i), runs[i], q)]
        if len(reproduced) < len(failing):
            if reproduced:
                finding.partly.append((mistake, len(reproduced)))
        elif all(same_outcome(run_variant(mistake, i), runs[i], q) for i in passing):
            finding.matches.append(mistake)
