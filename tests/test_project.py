"""The project's own configuration: what installing it and running its tests rely on."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import tomllib

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())


def test_license_is_an_spdx_string() -> None:
    """A TOML table here makes setuptools warn on every install (deprecated, and refused
    after 2027-02-18); an SPDX string needs setuptools >= 77."""
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_suite_runs_in_random_order() -> None:
    """pytest-randomly is a test dependency, installed as a pytest plugin, and nothing of
    the project's turns it off, so every run shuffles the tests unless its command says
    ``-p no:randomly`` (as the README tells): a test that needs another to run first fails
    sooner or later instead of hiding."""
    assert any(req.startswith("pytest-randomly") for req in
               PYPROJECT["project"]["optional-dependencies"]["test"])
    plugins = {entry.name for entry in importlib.metadata.entry_points(group="pytest11")}
    assert "randomly" in plugins
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    for options in (PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"], makefile):
        assert "no:randomly" not in options


def test_only_make_test_runs_pytest_on_several_processes() -> None:
    """`make test` runs two pytest-xdist workers (Makefile); pytest's own options and the
    mutation run's (mutmut forks its workers and runs pytest in each) never ask for any."""
    assert any(req.startswith("pytest-xdist") for req in
               PYPROJECT["project"]["optional-dependencies"]["test"])
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "$(BIN)/python -m pytest -n 2 " in makefile
    pytest_args = [PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"],
                   *PYPROJECT["tool"]["mutmut"]["pytest_add_cli_args"]]
    assert not [arg for arg in " ".join(pytest_args).split()
                if arg.startswith(("-n", "--numprocesses", "--dist"))]
