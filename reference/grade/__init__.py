"""Grading a class: every submission checked in isolation, judged in the grader, written
in the formats courses use.

By idea: ``config.py`` the assignment (``grading.toml``); ``isolation.py`` the child
processes and their limits, ``sandbox.py`` the namespaces they run in, ``wire.py`` the
data they send back (never pickle); ``child.py`` what a child does with a submission,
``verdicts.py`` what the grader makes of it (judged and scored); ``formats.py`` the CSV
and Gradescope's ``results.json``, ``page.py`` the HTML page and the mistakes'
histogram; ``grade.py`` the whole run; ``sample.py`` a generated class, for the tests and
``bench.py``.
"""

from reference.grade.config import ConfigError, GradingConfig, KindConfig, load_config
from reference.grade.grade import ClassGrade, grade, grade_gradescope, run_class
from reference.grade.isolation import Limits

__all__ = ["ClassGrade", "ConfigError", "GradingConfig", "KindConfig", "Limits", "grade",
           "grade_gradescope", "load_config", "run_class"]
