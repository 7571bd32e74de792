"""Fixtures of the chaos suite: its figures, written to docs/reliability.md by `make chaos`."""

from __future__ import annotations

import pytest

from tests.chaos.report import FIGURES, Figures, write_report


@pytest.fixture
def figures() -> Figures:
    """Where a scenario records what it measured."""
    return FIGURES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the session: docs/reliability.md from the figures (only under `make chaos`)."""
    write_report()
