"""Retention (issue 13 finding 12): old rows go in batches on SQLite and PostgreSQL, a live run's rows stay."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.retention import PurgeReport, RetentionActivities
from app.config import ConfigError
from app.config.retention import RetentionSettings
from app.store.db import make_engine, make_session_factory
from app.store.models import AgentJob, Checkpoint, JobLog, NotificationDelivery, Orchestration, WebhookDelivery, utcnow
from app.store.retention import purge_expired
from app.temporal.schedules import global_plans
from tests.conftest import make_settings
from workflows.retention import RETENTION_ID, RetentionInput, RetentionWorkflow

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=utcnow().tzinfo)
OLD = NOW - timedelta(days=100)
NEW = NOW - timedelta(days=10)  # past the job specs' 7 days, within the other ages


def seed(factory: sessionmaker[Session], at: datetime = NOW) -> None:
    """ENDED-1 ended long ago; LIVE-1 waits at a gate and PARKED-1 failed without ending (both started long ago)."""
    old, new = at - (NOW - OLD), at - (NOW - NEW)
    with factory.begin() as session:
        for key, status, finished in (
            ("ENDED-1", "completed", old),
            ("LIVE-1", "waiting_for_approval", None),
            ("PARKED-1", "failed", None),
        ):
            run = f"run-{key}"
            session.add(
                Orchestration(
                    issue_key=key,
                    project_key=key.split("-")[0],
                    temporal_workflow_id=f"orchestration-{key}",
                    temporal_run_id=run,
                    status=status,
                    created_at=old,
                    updated_at=old,
                    finished_at=finished,
                )
            )
            session.add(
                WebhookDelivery(
                    delivery_id=f"d-{key}", webhook_event="x", issue_key=key, outcome="dispatched", received_at=old
                )
            )
            session.add(
                Checkpoint(
                    temporal_run_id=run, issue_key=key, phase="EXPLORE", state="{}", created_at=old, updated_at=old
                )
            )
            session.add(
                NotificationDelivery(key=f"n-{key}", issue_key=key, event="gate", status="sent", created_at=old)
            )
            session.add(job(f"{run}-EXPLORE-1", run, key, "completed", old))
            session.add_all(log(f"{run}-EXPLORE-1", seq, old) for seq in range(3))
        # A queued job of a run the database does not know (an older release): queued jobs stay whatever their age.
        session.add(job("orphan-queued", "run-unknown", "GONE-1", "queued", old))
        session.add_all(log("orphan-queued", seq, old) for seq in range(2))
        # Young rows of an ended run stay until they are old enough.
        session.add(
            WebhookDelivery(
                delivery_id="d-young", webhook_event="x", issue_key="ENDED-1", outcome="ok", received_at=new
            )
        )
        session.add(
            WebhookDelivery(
                delivery_id="d-nokey", webhook_event="x", issue_key=None, outcome="ignored", received_at=old
            )
        )
        session.add_all(log("run-ENDED-1-EXPLORE-1", seq, new) for seq in range(3, 5))
        session.add(job("run-ENDED-1-PLAN-1", "run-ENDED-1", "ENDED-1", "completed", new))


def job(job_id: str, run: str, key: str, status: str, at: datetime) -> AgentJob:
    return AgentJob(
        id=job_id,
        orchestration_run_id=run,
        issue_key=key,
        project_key=key.split("-")[0],
        phase="EXPLORE",
        command="explore",
        status=status,
        spec='{"big": "job input"}',
        created_at=at,
        updated_at=at,
        finished_at=at if status == "completed" else None,
    )


def log(job_id: str, seq: int, at: datetime) -> JobLog:
    return JobLog(job_id=job_id, seq=seq, level="INFO", message=f"line {seq}", created_at=at)


def contents(factory: sessionmaker[Session]) -> dict[str, object]:
    with factory() as session:
        return {
            "deliveries": sorted(session.scalars(select(WebhookDelivery.delivery_id))),
            "checkpoints": sorted(session.scalars(select(Checkpoint.issue_key))),
            "notifications": sorted(session.scalars(select(NotificationDelivery.key))),
            "jobs": sorted(session.scalars(select(AgentJob.id))),
            "specs": sorted(session.scalars(select(AgentJob.id).where(AgentJob.spec.is_not(None)))),
            "logs": {
                job_id: n for job_id, n in session.execute(select(JobLog.job_id, func.count()).group_by(JobLog.job_id))
            },
            "orchestrations": session.scalar(select(func.count()).select_from(Orchestration)),
        }


def test_expired_rows_go_in_batches_and_a_live_runs_rows_stay(database_url: str) -> None:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    try:
        seed(factory)
        beats: list[str] = []
        # Batches of 2, at most 1 per kind and sweep: a big backlog goes over several sweeps.
        first = purge_expired(factory, RetentionSettings(batch_size=2), NOW, beats.append, max_batches=1)
        assert "job_logs" in first.more and first.counts["job_logs"] == 2
        assert beats.count("job_logs") == 1
        purged = purge_expired(factory, RetentionSettings(batch_size=2), NOW)
        assert purged.more == []
        after = contents(factory)
    finally:
        engine.dispose()
    assert after == {
        "deliveries": ["d-LIVE-1", "d-PARKED-1", "d-young"],
        "checkpoints": ["LIVE-1", "PARKED-1"],
        "notifications": ["n-LIVE-1", "n-PARKED-1"],
        # The ended run's old job is gone (with its logs, young or old); its young job stays, without its spec.
        "jobs": ["orphan-queued", "run-ENDED-1-PLAN-1", "run-LIVE-1-EXPLORE-1", "run-PARKED-1-EXPLORE-1"],
        "specs": ["orphan-queued", "run-LIVE-1-EXPLORE-1", "run-PARKED-1-EXPLORE-1"],
        "logs": {"orphan-queued": 2, "run-LIVE-1-EXPLORE-1": 3, "run-PARKED-1-EXPLORE-1": 3},
        "orchestrations": 3,
    }


def test_a_zero_age_keeps_that_kind_forever(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    try:
        seed(factory)
        keep = RetentionSettings(deliveries=timedelta(0), job_logs=timedelta(0), jobs=timedelta(0))
        purged = purge_expired(factory, keep, NOW)
        after = contents(factory)
    finally:
        engine.dispose()
    assert set(purged.counts) == {"job_specs", "checkpoints", "notifications"}
    assert "d-ENDED-1" in after["deliveries"] and "run-ENDED-1-EXPLORE-1" in after["logs"]  # type: ignore[operator]


def test_retention_settings_and_the_delivery_window(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, RETENTION_JOB_LOGS="7d", RETENTION_CHECKPOINTS="0")
    assert settings.retention.job_logs == timedelta(days=7) and settings.retention.checkpoints == timedelta(0)
    assert settings.retention.deliveries == timedelta(days=30)
    # A delivery forgotten while a replay of it would still pass the age check would act again.
    with pytest.raises(ConfigError, match="RETENTION_DELIVERIES: must be longer than JIRA_WEBHOOK_MAX_AGE"):
        make_settings(tmp_path, RETENTION_DELIVERIES="1h", JIRA_WEBHOOK_MAX_AGE="2h")
    with pytest.raises(ConfigError, match="RETENTION_INTERVAL"):
        make_settings(tmp_path, RETENTION_INTERVAL="5s")


async def test_the_retention_schedule_runs_the_purge(
    temporal_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, DATABASE_URL=sqlite_url, RETENTION_INTERVAL="30m")
    plan = next(p for p in global_plans(settings) if p.schedule_id == RETENTION_ID)
    assert plan.every == timedelta(minutes=30) and plan.workflow == RetentionWorkflow.run
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    seed(factory, at=utcnow())  # the activity reads its own clock
    task_queue = f"retention-{uuid.uuid4()}"
    activities = RetentionActivities(factory, settings.retention)
    try:
        with ThreadPoolExecutor(4) as pool:
            async with Worker(
                temporal_env.client,
                task_queue=task_queue,
                workflows=[RetentionWorkflow],
                activities=[activities.purge_expired_rows],
                activity_executor=pool,
            ):
                report = await temporal_env.client.execute_workflow(
                    RetentionWorkflow.run, RetentionInput(), id=f"retention-{uuid.uuid4()}", task_queue=task_queue
                )
        after = contents(factory)
    finally:
        engine.dispose()
    assert isinstance(report, PurgeReport)
    assert report.counts["deliveries"] == 2 and report.counts["jobs"] == 1 and report.more == []
    assert after["deliveries"] == ["d-LIVE-1", "d-PARKED-1", "d-young"]
