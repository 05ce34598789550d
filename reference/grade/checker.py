"""The checker's API the grader builds on, in one place: ``load`` and ``discover`` and
``run_battery`` (which run a submission's code: the child's side), ``judge`` (the
parent's side) and ``prepare`` (the batteries, made once in the parent before any fork)."""

from reference.check import Implementation, discover, judge, load, run_battery
from reference.check.report import disagreeing
from reference.check.run import Prepared, prepare
from reference.check.styles import ImportFailedError
from reference.kinds.record import Run

__all__ = ["Implementation", "ImportFailedError", "Prepared", "Run", "disagreeing", "discover",
           "judge", "load", "prepare", "run_battery"]
