"""What the console's run page computes (issue 14 Pages): phase durations and the diffs between plan versions."""

from __future__ import annotations

from datetime import UTC, datetime

from app.web.run_view import durations, version_diffs, waited


def test_durations_of_finished_running_and_pending_phases() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    phases = [
        {"phase": "EXPLORE", "started_at": "2026-12-06T11:00:00+00:00", "finished_at": "2026-12-06T11:02:05+00:00"},
        {"phase": "PLAN", "started_at": "2026-12-06T10:00:00+00:00", "finished_at": None},
        {"phase": "CODE", "started_at": None, "finished_at": None},
    ]
    assert durations(phases, now) == {"EXPLORE": "2m", "PLAN": "2h 0m", "CODE": ""}
    assert waited(datetime(2026, 12, 5, 11, 0, tzinfo=UTC), now) == "1d 1h" and waited(None) == ""


def test_each_rejection_shows_what_changed_newest_first() -> None:
    versions = [
        {"version": 1, "text": "1. a\n2. b", "feedback": "", "feedback_by": ""},
        {"version": 2, "text": "1. a\n2. b\n3. c", "feedback": "add c", "feedback_by": "acc-reviewer"},
        {"version": 3, "text": "1. a\n3. c", "feedback": "drop b", "feedback_by": "acc-reviewer"},
    ]
    newest, older = version_diffs(versions)
    assert (newest.before, newest.after, newest.feedback) == (2, 3, "drop b") and "-2. b" in newest.lines
    assert (older.before, older.after) == (1, 2) and "+3. c" in older.lines
    assert version_diffs(versions[:1]) == []
