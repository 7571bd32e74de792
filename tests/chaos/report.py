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

    def sections(self) -> dict[str, str]:
        """Each scenario's section of docs/reliability.md: its title, when and at what scale, and its figures."""
        measured = f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'full' if FULL else 'reduced'} scale."
        found: dict[str, list[str]] = {}
        for figure in self.items:
            lines = found.setdefault(
                figure.scenario, [measured, "", "| Figure | Measured | Must be |", "|---|---|---|"]
            )
            lines.append(f"| {figure.name} | {figure.value} | {figure.expected} |")
        return {title: "\n".join(lines) for title, lines in found.items()}


HEADER = f"""# Reliability: the chaos suite's figures

Written by `make chaos` (the chaos suite at full scale, CHAOS=full) on the embedded stack: a real Temporal dev
server, the sandbox Jira with its fault injection, gunicorn web, worker and demo agents as separate processes.
`make test` runs the same scenarios reduced. A scenario run on its own (CHAOS_REPORT set) replaces its own section.

Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python \
{platform.python_version()}.
"""


def merged(existing: str, sections: dict[str, str]) -> str:
    """The report: the sections measured now, and the other scenarios' sections as the file had them."""
    kept = {}
    for part in existing.split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        kept[title.strip()] = body.strip("\n")
    kept.update(sections)
    return HEADER + "".join(f"\n## {title}\n\n{body}\n" for title, body in kept.items())


FIGURES = Figures()


def write_report() -> None:
    """Write the figures to CHAOS_REPORT when it is set and something was measured (other sections kept)."""
    if REPORT and FIGURES.items:
        path = Path(REPORT)
        path.write_text(merged(path.read_text() if path.exists() else "", FIGURES.sections()))
