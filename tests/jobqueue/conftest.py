"""Fixtures of the job queue tests: a migrated database (SQLite and PostgreSQL) and jobs created the real way."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from activities.jobs import JobActivities, JobFinished, NewJob
from activities.queue import EnqueueInput, QueueActivities
from app.jobqueue import agents
from app.store.db import make_engine, make_session_factory
from app.store.models import Agent, AgentJob, JobLog, ProjectQueue
from workflows.job_types import JobInput


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on the migrated test database."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def wipe(factory: sessionmaker[Session]) -> None:
    """Empty the queue tables (hypothesis runs many examples on one database)."""
    with factory.begin() as session:
        for model in (JobLog, AgentJob, Agent, ProjectQueue):
            session.execute(delete(model))


def job_input(job_id: str, project: str, kind: str = "backlog", roles: tuple[str, ...] = ("planner",)) -> JobInput:
    """A job's input as the orchestration builds it."""
    return JobInput(
        job_id=job_id,
        orchestration_run_id=f"run-{job_id}",
        issue_key=f"{project}-{zlib.crc32(job_id.encode()) % 1000 + 1}",
        project_key=project,
        phase="PLAN",
        attempt=1,
        roles=list(roles),
        prompt=f"plan {job_id}",
        context='{"issue": {}}',
        queue_kind=kind,
    )


def add_job(factory: sessionmaker[Session], job: JobInput, enqueue: bool = True) -> None:
    """Create the job as the orchestration does (create_job), then hand it to the queue (enqueue_job)."""
    JobActivities(factory).create_job(
        NewJob(
            job.job_id,
            job.orchestration_run_id,
            job.issue_key,
            job.project_key,
            job.phase,
            job.attempt,
            job.phase,
            job.roles,
            job.prompt,
            job.context,
            job.queue_kind,
        )
    )
    if enqueue:
        QueueActivities(factory).enqueue_job(EnqueueInput(job))


def add_agents(factory: sessionmaker[Session], *addresses: str) -> None:
    """Register agents (online, healthy)."""
    with factory.begin() as session:
        for address in addresses:
            agents.register(session, address)


@dataclass(frozen=True)
class Row:
    """A job row as the assertions need it."""

    job_id: str
    project: str
    kind: str
    status: str
    position: int | None
    agent: str | None


def rows(factory: sessionmaker[Session]) -> dict[str, Row]:
    """Every job by id."""
    with factory() as session:
        jobs = session.scalars(select(AgentJob)).all()
        return {j.id: Row(j.id, j.project_key, j.queue_kind, j.status, j.order_in_queue, j.agent_id) for j in jobs}


def positions(factory: sessionmaker[Session], project: str) -> list[int]:
    """The positions of the project's queued jobs, sorted."""
    return sorted(r.position or 0 for r in rows(factory).values() if r.project == project and r.status == "queued")


def finish(factory: sessionmaker[Session], job_id: str, status: str = "completed", **fields: str) -> None:
    """End a job the way its job workflow does (JobActivities.finish_job)."""
    JobActivities(factory, []).finish_job(JobFinished(job_id, status, **fields))  # type: ignore[arg-type]
