"""Handing the next job to an agent, atomically (the seed's getNextJob and claim).

Rules: an agent runs one job at a time and gets work only while online and healthy (its last ping answered);
within a Jira project jobs run one at a time, in queue order, and a running job is never pre-empted (a project
with a job in progress offers nothing); across projects the first job in claim order wins (rework before
backlog, then position). Only jobs the orchestration queued with their spec are claimed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from app.jobqueue.locks import begin_write, lock_agent, lock_project
from app.jobqueue.order import IN_PROGRESS, QUEUED, claim_order, renumber
from app.store.models import Agent, AgentJob, ProjectQueue, utcnow
from workflows.queue_types import job_workflow_id

HEADS_SCANNED = 500  # queued jobs looked at per claim; far more than projects with work waiting


@dataclass(frozen=True)
class Claim:
    """A job now in progress on an agent: its id, the agent, the job workflow's id and the job's spec (JSON)."""

    job_id: str
    agent_id: str
    workflow_id: str
    spec: str


def roles_fit(agent_roles: str, job_roles: str) -> bool:
    """An agent with no roles takes any job; otherwise it must have one of the job's roles."""
    offered = {r.strip() for r in agent_roles.split(",") if r.strip()}
    wanted = {r.strip() for r in job_roles.split(",") if r.strip()}
    return not offered or not wanted or bool(offered & wanted)


def agent_busy(session: Session, agent_id: str) -> bool:
    """True while the agent has a job in progress."""
    query = select(AgentJob.id).where(AgentJob.agent_id == agent_id, AgentJob.status == IN_PROGRESS).limit(1)
    return session.scalar(query) is not None


def project_heads(session: Session, project_key: str | None = None) -> list[AgentJob]:
    """The next job of each free, unpaused project (its first in claim order); rework heads first, then oldest.

    Positions are per project, so across projects the oldest head goes first (first come, first served).
    """
    running = aliased(AgentJob)
    busy = exists().where(running.project_key == AgentJob.project_key, running.status == IN_PROGRESS)
    paused = exists().where(ProjectQueue.project_key == AgentJob.project_key, ProjectQueue.paused.is_(True))
    query = select(AgentJob).where(AgentJob.status == QUEUED, AgentJob.spec.is_not(None), ~busy, ~paused)
    if project_key is not None:
        query = query.where(AgentJob.project_key == project_key)
    heads: dict[str, AgentJob] = {}
    for job in session.scalars(query.order_by(*claim_order()).limit(HEADS_SCANNED)):
        heads.setdefault(job.project_key, job)
    return sorted(heads.values(), key=lambda job: (job.queue_kind != "rework", job.created_at, job.id))


def next_job(session: Session, agent: Agent | None = None) -> AgentJob | None:
    """The job a claim would hand to `agent` now (any agent when None), without claiming it; None when none."""
    for head in project_heads(session):
        if agent is None or roles_fit(agent.roles, head.roles):
            return head
    return None


def claim_next_job(session: Session, agent_id: str, clock: Callable[[], datetime] = utcnow) -> Claim | None:
    """Atomically move the agent's next job to in progress; None when the agent is busy or unwell, or none fits.

    Call on a fresh transaction (`with factory.begin() as session`): on SQLite it starts with BEGIN IMMEDIATE.
    The job's `started_at` is read from `clock` once the claim holds its locks and has seen the agent and the
    project free, so it is never earlier than the `finished_at` of the job it waited for (a time taken before
    waiting for the lock could be).
    """
    begin_write(session)
    agent = lock_agent(session, agent_id)
    if agent is None or agent.status != "online" or agent.consecutive_failures or agent_busy(session, agent_id):
        return None
    for head in project_heads(session):
        if not roles_fit(agent.roles, head.roles):
            continue
        project = lock_project(session, head.project_key, skip_locked=True)
        if project is None or project.paused:
            continue  # another claim holds this project right now, or it was just paused
        # Re-read under the project's lock: what we saw before may have been claimed, moved or removed since.
        fresh = project_heads(session, head.project_key)
        if not fresh or not roles_fit(agent.roles, fresh[0].roles):
            continue
        claim = _take(session, fresh[0], agent_id, clock())
        if claim is not None:
            renumber(session, head.project_key)
            return claim
    return None


def _take(session: Session, job: AgentJob, agent_id: str, now: datetime) -> Claim | None:
    # The conditional update is the last word: it changes nothing unless the job is still queued.
    workflow_id = job_workflow_id(job.id, job.recoveries)
    result = session.execute(
        update(AgentJob)
        .where(AgentJob.id == job.id, AgentJob.status == QUEUED)
        .values(
            status=IN_PROGRESS,
            agent_id=agent_id,
            temporal_workflow_id=workflow_id,
            temporal_run_id=None,
            order_in_queue=None,
            started_at=now,
            finished_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.expire(job)
    return Claim(job.id, agent_id, workflow_id, job.spec or "{}")
