"""Fixtures of the chaos suite: its figures, written to docs/reliability.md by `make chaos`."""

from __future__ import annotations

import pytest

from tests.chaos.report import FIGURES, Figures


@pytest.fixture
def figures() -> Figures:
    """Where a scenario records what it measured."""
    return FIGURES
