"""Queue edits (the seed's removeJobFromQueue, reprioritizeQueueAfterRemoval, move): positions stay 1..n."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from activities.queue import AgentRef, QueueActivities
from app.jobqueue import edits, views
from app.jobqueue.locks import begin_write, lock_project
from app.jobqueue.order import renumber
from app.store.models import AgentJob, utcnow
from tests.jobqueue.conftest import add_agents, add_job, finish, job_input, positions, rows, wipe

AGENT = "10.0.0.1:50051"
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
steps = st.lists(
    st.tuples(st.sampled_from(("add", "remove", "move", "claim", "finish", "gap")), st.integers(0, 9)),
    min_size=1,
    max_size=20,
)


@SETTINGS
@given(steps=steps)
def test_positions_have_no_gaps_and_no_duplicates(factory: sessionmaker[Session], steps: list[tuple[str, int]]) -> None:
    wipe(factory)
    queue = QueueActivities(factory)
    add_agents(factory, AGENT)
    created: list[str] = []
    for action, n in steps:
        queued = [r for r in sorted(rows(factory).values(), key=lambda r: r.position or 0) if r.status == "queued"]
        if action == "add":
            created.append(f"e{len(created):02d}")
            add_job(factory, job_input(created[-1], "ALPHA"))
        elif action == "remove" and queued:
            with factory.begin() as session:
                edits.remove(session, queued[n % len(queued)].job_id, "test", utcnow())
        elif action == "move" and queued:
            job = queued[n % len(queued)]
            with factory.begin() as session:
                got = edits.move(session, job.job_id, n + 1)
            assert got == min(n + 1, len(queued))
            assert rows(factory)[job.job_id].position == got
            others = [r.job_id for r in queued if r.job_id != job.job_id]
            after = [r.job_id for r in sorted(rows(factory).values(), key=lambda r: r.position or 0)]
            assert [j for j in after if j in others] == others, "the other jobs keep their relative order"
        elif action == "claim":
            queue.claim_next_job(AgentRef(AGENT))
        elif action == "finish":
            for row in rows(factory).values():
                if row.status == "in_progress":
                    finish(factory, row.job_id)
        elif action == "gap" and queued:
            # A gap an older release could leave behind; reprioritizing closes it.
            with factory.begin() as session:
                session.execute(update(AgentJob).where(AgentJob.id == queued[-1].job_id).values(order_in_queue=99))
            with factory.begin() as session:
                begin_write(session)
                lock_project(session, "ALPHA")
                assert renumber(session, "ALPHA") == len(queued)
        current = positions(factory, "ALPHA")
        assert current == list(range(1, len(current) + 1))


def test_only_a_queued_job_can_be_removed_or_moved(factory: sessionmaker[Session]) -> None:
    queue = QueueActivities(factory)
    add_agents(factory, AGENT)
    add_job(factory, job_input("x1", "ALPHA"))
    queue.claim_next_job(AgentRef(AGENT))
    with factory.begin() as session, pytest.raises(edits.QueueError, match="in_progress, not queued"):
        edits.remove(session, "x1", "test", utcnow())
    with factory.begin() as session, pytest.raises(edits.QueueError, match="not queued"):
        edits.move(session, "x1", 1)
    with factory.begin() as session, pytest.raises(edits.QueueError, match="there is no job"):
        edits.remove(session, "nope", "test", utcnow())
    with factory.begin() as session, pytest.raises(edits.QueueError, match="position must be 1 or more"):
        edits.move(session, "x1", 0)


def test_update_job_status_records_pr_link_and_error(factory: sessionmaker[Session]) -> None:
    add_job(factory, job_input("u1", "ALPHA"))
    add_job(factory, job_input("u2", "ALPHA"))
    finish(factory, "u1", "failed", pr_url="https://git/pr/1", error="boom", error_kind="X")
    with factory() as session:
        job = views.job_view(session, "u1")
    assert job is not None
    assert (job.status, job.pr_link, job.error, job.error_kind, job.position) == (
        "failed", "https://git/pr/1", "boom", "X", None,
    )  # fmt: skip
    assert job.finished_at is not None
    assert rows(factory)["u2"].position == 1  # the queue closed up behind it
    with pytest.raises(edits.QueueError, match="unknown job status"):
        finish(factory, "u2", "exploded")
    with factory() as session:
        assert views.job_view(session, "nope") is None


def test_withdraw_removes_a_waiting_job_and_reports_a_running_one(factory: sessionmaker[Session]) -> None:
    add_agents(factory, AGENT)
    add_job(factory, job_input("w1", "ALPHA"))
    add_job(factory, job_input("w2", "ALPHA"))
    QueueActivities(factory).claim_next_job(AgentRef(AGENT))
    with factory.begin() as session:
        assert edits.withdraw(session, "w2", "run cancelled", utcnow()) == edits.Withdrawal("removed")
    with factory.begin() as session:
        assert edits.withdraw(session, "w1", "run cancelled", utcnow()) == edits.Withdrawal("running", "job-w1")
    assert rows(factory)["w2"].status == "cancelled"
