"""Many viewers, few reads: viewers of one issue in a web process share each read of the run's state."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.temporal.gateway import TemporalUnavailable
from app.web.run_events import SharedSnapshots


def test_fifty_viewers_of_one_issue_make_one_read_per_interval() -> None:
    reads: list[str] = []
    started = threading.Barrier(50)

    def read() -> dict[str, str]:
        reads.append("CON-1")
        return {"status": "running"}

    shared = SharedSnapshots(max_age=60)

    def viewer(_: int) -> object:
        started.wait()
        return shared.get("CON-1", read)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(viewer, range(50)))
    assert len(reads) == 1 and all(answer == {"status": "running"} for answer in answers)
    assert shared.get("CON-2", lambda: None) is None  # another issue: its own read (a run that does not exist)
    fresh = SharedSnapshots(max_age=0)
    fresh.get("CON-1", read)
    fresh.get("CON-1", read)
    assert len(reads) == 3  # an old snapshot is read again


def test_an_unavailable_temporal_is_not_remembered() -> None:
    shared = SharedSnapshots(max_age=60)

    def down() -> None:
        raise TemporalUnavailable("connection refused")

    with pytest.raises(TemporalUnavailable):
        shared.get("CON-1", down)
    assert shared.get("CON-1", lambda: {"status": "running"}) == {"status": "running"}
