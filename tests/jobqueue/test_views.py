"""What the queue shows (seed property 16) and the orchestrator's own job log lines (property 9)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from activities.queue import JobLogEntry, QueueActivities
from app.jobqueue.claims import next_job
from app.jobqueue.views import queue_status
from app.store.job_logs import LogLine, store_lines
from app.store.models import AgentJob, JobLog, utcnow
from tests.jobqueue.conftest import add_job, job_input, wipe

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
STATUSES = ("queued", "in_progress", "completed", "failed", "cancelled")


@SETTINGS
@given(
    jobs=st.lists(st.tuples(st.sampled_from(("ALPHA", "BETA")), st.sampled_from(STATUSES), st.booleans()), max_size=10)
)
def test_queue_status_lists_every_executing_and_queued_job_of_the_project_and_nothing_else(
    factory: sessionmaker[Session], jobs: list[tuple[str, str, bool]]
) -> None:
    wipe(factory)
    for n, (project, status, rework) in enumerate(jobs):
        add_job(factory, job_input(f"v{n:02d}", project, "rework" if rework else "backlog"))
        if status != "queued":
            with factory.begin() as session:
                session.execute(update(AgentJob).where(AgentJob.id == f"v{n:02d}").values(status=status))
    with factory() as session:
        view = queue_status(session, "ALPHA")
        head = next_job(session)
    expected = {s: {f"v{n:02d}" for n, (p, st_, _) in enumerate(jobs) if p == "ALPHA" and st_ == s} for s in STATUSES}
    assert {j.job_id for j in view.executing} == expected["in_progress"]
    assert {j.job_id for j in view.queued} == expected["queued"]
    kinds = [j.queue_kind for j in view.queued]
    assert kinds == sorted(kinds, key=lambda k: k != "rework"), "rework is listed (and runs) first"
    assert all(j.project_key == "ALPHA" for j in view.executing + view.queued)
    if view.queued and not view.executing:
        assert head is not None and (head.project_key != "ALPHA" or head.id == view.queued[0].job_id)


@SETTINGS
@given(
    entries=st.lists(
        st.tuples(st.sampled_from(("debug", "INFO", "warning", "error")), st.text(max_size=40), st.text(max_size=10)),
        min_size=1,
        max_size=8,
    )
)
def test_every_log_line_is_stored_once_with_level_message_and_stage(
    factory: sessionmaker[Session], entries: list[tuple[str, str, str]]
) -> None:
    wipe(factory)
    queue = QueueActivities(factory)
    store_lines(factory, [LogLine("job-1", 1, "info", "agent", "agent line", utcnow())])  # the agent's own line
    for level, message, stage in entries:
        queue.log_to_job(JobLogEntry("job-1", level, message, stage))
    store_lines(factory, [LogLine("job-1", 2, "info", "agent", "agent line 2", utcnow())])
    with factory() as session:
        stored = list(session.scalars(select(JobLog).where(JobLog.job_id == "job-1").order_by(JobLog.id)))
    ours = [(r.level, r.message, r.stage) for r in stored if r.seq < 0]
    expected = [
        (level.lower(), message.replace("\x00", ""), stage.replace("\x00", "")) for level, message, stage in entries
    ]
    assert ours == expected
    assert [r.seq for r in stored if r.seq > 0] == [1, 2]  # the agent's lines are untouched
    assert len({r.seq for r in stored}) == len(stored)
