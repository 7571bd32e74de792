"""The chaos suite's figures, and docs/reliability.md written from them after a full run (`make chaos`)."""

from __future__ import annotations

import os
import platform
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FULL = os.environ.get("CHAOS") == "full"
REPORT = os.environ.get("CHAOS_REPORT", "")


def scale(full: int, reduced: int) -> int:
    """The full figure under `make chaos` (CHAOS=full), the reduced one in `make test`."""
    return full if FULL else reduced


@dataclass(frozen=True)
class Figure:
    """One measured figure of a scenario, beside what it must be."""

    scenario: str
    name: str
    value: str
    expected: str


class Figures:
    """Figures in the order the scenarios measured them (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Figure] = []

    def add(self, scenario: str, name: str, value: object, expected: object = "") -> None:
        """Record one figure."""
        with self._lock:
            self.items.append(Figure(scenario, name, str(value), str(expected)))

    def markdown(self) -> str:
        """docs/reliability.md: the machine, the date and every figure, grouped by scenario."""
        lines = [
            "# Reliability: the chaos suite's figures",
            "",
            "Written by `make chaos` (tests/chaos with CHAOS=full) on the embedded stack: real Temporal dev server,",
            "sandbox Jira with fault injection, gunicorn web, worker and demo agents as separate processes.",
            "`make test` runs the same scenarios reduced (fewer runs, kills and deliveries).",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}",
            f"- Scale: {'full' if FULL else 'reduced'}",
        ]
        scenario = None
        for figure in self.items:
            if figure.scenario != scenario:
                scenario = figure.scenario
                lines += ["", f"## {scenario}", "", "| Figure | Measured | Must be |", "|---|---|---|"]
            lines.append(f"| {figure.name} | {figure.value} | {figure.expected} |")
        return "\n".join(lines) + "\n"


FIGURES = Figures()


def write_report() -> None:
    """Write the figures to CHAOS_REPORT when it is set and something was measured."""
    if REPORT and FIGURES.items:
        Path(REPORT).write_text(FIGURES.markdown())
