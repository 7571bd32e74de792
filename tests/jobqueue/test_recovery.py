"""Orphan and stuck job detection and recovery (seed properties 19, 20, 21, 22)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from activities.queue import AgentRef, QueueActivities
from activities.recovery import RecoverInput, RecoveryActivities, Suspect, SuspectQuery
from app.store.job_logs import LogLine, store_lines
from app.store.models import AgentJob, utcnow
from tests.jobqueue.conftest import add_agents, add_job, job_input, positions, rows, wipe
from workflows.recovery import lost_reason

AGENT = "10.0.0.1:50051"
STATUSES = ("RUNNING", "COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT", "NOT_FOUND")
seconds = st.floats(0, 10_000, allow_nan=False)


def suspect(idle: float, claimed: float) -> Suspect:
    return Suspect("j", "ALPHA-1", "run", AGENT, "job-j", "r1", idle, claimed)


@settings(max_examples=300, deadline=None)
@given(idle=seconds, claimed=seconds, status=st.sampled_from(STATUSES), stuck=seconds, grace=seconds, off=st.booleans())
def test_a_job_is_lost_exactly_when_orphaned_stuck_or_on_an_offline_agent(
    idle: float, claimed: float, status: str, stuck: float, grace: float, off: bool
) -> None:
    reason = lost_reason(suspect(idle, claimed), status, stuck, grace, off)
    orphan = status != "RUNNING" and claimed >= grace
    assert (reason is not None) == (off or orphan or idle >= stuck)
    if reason is not None and not off:
        assert ("job workflow" in reason) == orphan  # an orphan is named as one, before staleness


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_recoveries=st.integers(0, 3), behind=st.integers(0, 3), rework_behind=st.booleans())
def test_a_lost_job_returns_to_its_place_until_its_recoveries_run_out(
    factory: sessionmaker[Session], max_recoveries: int, behind: int, rework_behind: bool
) -> None:
    wipe(factory)
    queue, recovery = QueueActivities(factory), RecoveryActivities(factory, max_recoveries=max_recoveries)
    add_agents(factory, AGENT)
    add_job(factory, job_input("lost", "ALPHA"))
    claimed = queue.claim_next_job(AgentRef(AGENT))
    assert claimed is not None
    for n in range(behind):  # queued while it ran
        add_job(factory, job_input(f"b{n}", "ALPHA", "rework" if rework_behind and n == 0 else "backlog"))
    for attempt in range(1, max_recoveries + 2):
        run_id = f"run-{attempt}"
        with factory.begin() as session:  # the job workflow recorded its run (assign_agent)
            session.execute(update(AgentJob).where(AgentJob.id == claimed.job.job_id).values(temporal_run_id=run_id))
        assert recovery.recover_job(RecoverInput(claimed.job.job_id, "another-run", "lost")).outcome == "skipped"
        outcome = recovery.recover_job(RecoverInput(claimed.job.job_id, run_id, "agent gone"))
        again = recovery.recover_job(RecoverInput(claimed.job.job_id, run_id, "agent gone"))
        assert again.outcome == outcome.outcome  # a retried recovery changes nothing more
        row = rows(factory)[claimed.job.job_id]
        if attempt <= max_recoveries:
            assert outcome.outcome == "requeued" and outcome.recoveries == attempt
            assert (row.status, row.position, row.agent) == ("queued", 1, None)  # back at the head, same kind
            assert row.kind == claimed.job.queue_kind
            assert positions(factory, "ALPHA") == list(range(1, behind + 2))
            next_claim = queue.claim_next_job(AgentRef(AGENT))
            assert next_claim is not None
            if next_claim.job.job_id != claimed.job.job_id:
                assert rework_behind and next_claim.job.queue_kind == "rework"  # rework still goes first
                return
            assert next_claim.workflow_id == f"job-lost-recovery-{attempt}"  # each run has its own id
        else:
            assert outcome.outcome == "failed"
            assert row.status == "failed" and row.position is None


def test_suspects_are_judged_by_their_latest_sign_of_life(factory: sessionmaker[Session]) -> None:
    queue = QueueActivities(factory)
    add_agents(factory, AGENT)
    add_job(factory, job_input("quiet", "ALPHA"))
    add_job(factory, job_input("chatty", "BETA"))
    add_job(factory, job_input("waiting", "GAMMA"))
    queue.claim_next_job(AgentRef(AGENT))
    add_agents(factory, "10.0.0.2:50051")
    queue.claim_next_job(AgentRef("10.0.0.2:50051"))
    long_ago = utcnow() - timedelta(hours=2)
    with factory.begin() as session:
        session.execute(update(AgentJob).values(updated_at=long_ago, started_at=long_ago))
    store_lines(factory, [LogLine("chatty:createPR", 7, "info", "push", "pushing", utcnow())])
    listing = RecoveryActivities(factory, stuck_after=timedelta(minutes=60)).list_recovery_suspects(SuspectQuery())
    found = {s.job_id: s for s in listing.suspects}
    assert set(found) == {"quiet", "chatty"}  # only in-progress jobs are suspects
    assert found["quiet"].idle_seconds >= 7200 - 5 and found["quiet"].claimed_seconds >= 7200 - 5
    assert found["chatty"].idle_seconds < 60  # its sub-job just logged
    assert listing.stuck_after_seconds == 3600
    stuck = [s.job_id for s in listing.suspects if lost_reason(s, "RUNNING", 3600, 120, False)]
    assert stuck == ["quiet"]
    one = RecoveryActivities(factory).list_recovery_suspects(SuspectQuery(agent_id=AGENT))
    assert [s.job_id for s in one.suspects] == ["quiet"]
