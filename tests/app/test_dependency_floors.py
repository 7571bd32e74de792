"""Dependency floors exclude versions with known vulnerabilities, and what is installed meets them (issue 13, Low)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

# The first release of each that fixes the advisories named in pyproject.toml.
SAFE_FLOORS = {"gunicorn": (23, 0, 0), "requests": (2, 32, 4), "urllib3": (2, 5, 0), "jinja2": (3, 1, 6)}


def version_tuple(text: str) -> tuple[int, ...]:
    """`2.32.4` → (2, 32, 4), padded to three parts; a suffix such as `.post1` is dropped."""
    parts = [int(re.match(r"\d+", part).group()) for part in text.split(".")[:3]]  # type: ignore[union-attr]
    return tuple(parts + [0] * (3 - len(parts)))


def declared_floors() -> dict[str, tuple[int, ...]]:
    data = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    floors = {}
    for requirement in data["project"]["dependencies"]:
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?>=([0-9.]+)", requirement)
        if match:
            floors[match.group(1).lower()] = version_tuple(match.group(2))
    return floors


@pytest.mark.parametrize("package", sorted(SAFE_FLOORS))
def test_the_floor_excludes_known_vulnerable_versions(package: str) -> None:
    floors = declared_floors()
    assert package in floors, f"pyproject.toml declares no floor for {package}"
    assert floors[package] >= SAFE_FLOORS[package]
    assert version_tuple(importlib.metadata.version(package)) >= SAFE_FLOORS[package]
