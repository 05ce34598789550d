"""The project's own configuration: what installing it and running its tests rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())


def test_license_is_an_spdx_string() -> None:
    """A TOML table here makes setuptools warn on every install (deprecated, and refused
    after 2027-02-18); an SPDX string needs setuptools >= 77."""
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


def test_suite_runs_in_random_order(pytestconfig: pytest.Config) -> None:
    """pytest-randomly is a test dependency, so every run shuffles the tests: a test that
    needs another to run first fails sooner or later instead of hiding."""
    assert any(req.startswith("pytest-randomly") for req in
               PYPROJECT["project"]["optional-dependencies"]["test"])
    assert pytestconfig.pluginmanager.hasplugin("randomly")
