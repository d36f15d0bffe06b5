"""The packages ship `py.typed`, so code that imports them is type-checked against their hints (PEP 561)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("api", "controller", "llmkube")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_the_py_typed_marker_and_ships_it(package: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert (REPO / package / "py.typed").is_file()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"][package]
