"""What the run page computes from the run's state: each phase's duration, and the diff between plan versions."""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workflows.report import elapsed


@dataclass(frozen=True)
class VersionDiff:
    """What changed from one version of a phase's work to the next, and the feedback that asked for it."""

    before: int
    after: int
    feedback: str
    feedback_by: str
    lines: list[str]


def durations(phases: list[dict[str, Any]], now: datetime) -> dict[str, str]:
    """Each phase's time from its start to its end (or to now while it runs); "" before it started."""
    found = {}
    for phase in phases:
        start = phase.get("started_at")
        if not start:
            found[phase["phase"]] = ""
            continue
        end = datetime.fromisoformat(phase["finished_at"]) if phase.get("finished_at") else now
        found[phase["phase"]] = elapsed(start, end)
    return found


def waited(since: datetime | None, now: datetime | None = None) -> str:
    """How long a gate has waited."""
    if since is None:
        return ""
    return elapsed(since.isoformat(), now or datetime.now(UTC))


def version_diffs(versions: list[dict[str, Any]]) -> list[VersionDiff]:
    """The diff from each version to the next (the ones a rejection asked for), newest first."""
    diffs = []
    for before, after in itertools.pairwise(versions):
        lines = difflib.unified_diff(
            before["text"].splitlines(), after["text"].splitlines(), f"v{before['version']}", f"v{after['version']}"
        )
        body = [line for line in lines if not line.startswith(("---", "+++"))]
        diffs.append(VersionDiff(before["version"], after["version"], after["feedback"], after["feedback_by"], body))
    return diffs[::-1]
