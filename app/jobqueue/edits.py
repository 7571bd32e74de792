"""Changing the queue: enqueue, remove, move, pause/resume, withdraw, recover, and status updates.

Every change takes the project's lock first (locks.py), so it never interleaves with a claim of the same project,
and leaves the project's positions 1..n without gaps or duplicates. Call each on a fresh transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.jobqueue.locks import begin_write, lock_project
from app.jobqueue.order import ENDED, IN_PROGRESS, QUEUED, STATUSES, place_first, queued_jobs, renumber
from app.store.models import AgentJob
from workflows.queue_types import JobRef, Recovery

# How a lost job that may not go back to the queue is marked (the orchestration is told it failed).
LOST = "AGENT_LOST"


class QueueError(ValueError):
    """A queue change that does not fit the job's state; the message says why, in one line."""


@dataclass(frozen=True)
class Withdrawal:
    """What withdrawing a job found: `removed` (it was queued), `running` (in `workflow_id`) or `ended`."""

    state: str
    workflow_id: str | None = None


def _ref(job: AgentJob) -> JobRef:
    return JobRef(job.id, job.issue_key, job.project_key, job.orchestration_run_id)


def _locked_job(session: Session, job_id: str) -> AgentJob:
    begin_write(session)
    job = session.get(AgentJob, job_id)
    if job is None:
        raise QueueError(f"there is no job {job_id!r}")
    lock_project(session, job.project_key)
    session.refresh(job)  # what another transaction committed before we held the lock
    return job


def _end(job: AgentJob, status: str, now: datetime, error_kind: str | None, error: str | None) -> None:
    job.status, job.error_kind, job.error = status, error_kind, error
    job.order_in_queue, job.finished_at = None, now


def enqueue(session: Session, job_id: str, spec: str) -> JobRef:
    """Attach the job's spec (so the queue monitor may claim it) and close any gap in its project's positions."""
    job = _locked_job(session, job_id)
    if job.spec is None:
        job.spec = spec
    if job.status == QUEUED:
        renumber(session, job.project_key)
    return _ref(job)


def remove(session: Session, job_id: str, reason: str, now: datetime) -> JobRef:
    """Take a queued job out of the queue (cancelled); the rest of the project's queue closes up."""
    job = _locked_job(session, job_id)
    if job.status != QUEUED:
        raise QueueError(f"job {job_id} is {job.status}, not queued: only a queued job can be removed")
    _end(job, "cancelled", now, "CANCELLED", reason)
    renumber(session, job.project_key)
    return _ref(job)


def move(session: Session, job_id: str, position: int) -> int:
    """Move a queued job to `position` (1 = next) in its project's queue; returns the position it got."""
    if position < 1:
        raise QueueError(f"position must be 1 or more, got {position}")
    job = _locked_job(session, job_id)
    if job.status != QUEUED:
        raise QueueError(f"job {job_id} is {job.status}, not queued: only a queued job can be moved")
    others = [j for j in queued_jobs(session, job.project_key) if j.id != job.id]
    index = min(position, len(others) + 1) - 1
    renumber(session, job.project_key, [*others[:index], job, *others[index:]])
    return index + 1


def set_paused(session: Session, project_key: str, paused: bool, actor: str) -> bool:
    """Pause or resume a project's queue (running jobs finish); returns True when this changed it."""
    begin_write(session)
    row = lock_project(session, project_key)
    assert row is not None  # a blocking lock always returns the row it created
    changed = row.paused != paused
    row.paused, row.paused_by = paused, (actor if paused else None)
    return changed


def withdraw(session: Session, job_id: str, reason: str, now: datetime) -> Withdrawal:
    """The orchestration gives up its job: removed when still queued; else where it runs, or that it ended."""
    job = _locked_job(session, job_id)
    if job.status == QUEUED:
        _end(job, "cancelled", now, "CANCELLED", reason)
        renumber(session, job.project_key)
        return Withdrawal("removed")
    if job.status == IN_PROGRESS:
        return Withdrawal("running", job.temporal_workflow_id)
    return Withdrawal("ended")


def recover(
    session: Session, job_id: str, run_id: str | None, reason: str, max_recoveries: int, now: datetime
) -> Recovery:
    """Put a lost job back at the head of its project's queue, or mark it failed once it has used its recoveries.

    `run_id` is the job workflow run believed lost: when the job has moved on to another run, nothing changes.
    """
    job = _locked_job(session, job_id)
    if job.temporal_run_id != run_id or job.status in ("completed", "cancelled"):
        return Recovery(_ref(job), "skipped", job.recoveries, reason)
    if job.status == QUEUED:
        return Recovery(_ref(job), "requeued", job.recoveries, job.error or reason)  # a retry of this recovery
    if job.status == "failed" and job.error_kind == LOST:
        return Recovery(_ref(job), "failed", job.recoveries, job.error or reason)
    if job.spec is None or job.recoveries >= max_recoveries:
        limit = "its job workflow was started directly" if job.spec is None else f"recovered {job.recoveries} times"
        _end(job, "failed", now, LOST, f"{reason} ({limit})")
        return Recovery(_ref(job), "failed", job.recoveries, job.error or reason)
    job.status, job.recoveries, job.agent_id = QUEUED, job.recoveries + 1, None
    job.error_kind, job.error, job.finished_at = None, reason, None
    place_first(session, job)
    return Recovery(_ref(job), "requeued", job.recoveries, reason)


def update_status(
    session: Session,
    job_id: str,
    status: str,
    now: datetime,
    pr_link: str | None = None,
    error: str | None = None,
    error_kind: str | None = None,
) -> JobRef:
    """Set a job's status (the seed's updateJobStatus), with its PR link and error; an ended job leaves the queue."""
    if status not in STATUSES:
        raise QueueError(f"unknown job status {status!r}; expected one of {', '.join(STATUSES)}")
    job = _locked_job(session, job_id)
    was_queued = job.status == QUEUED
    # A repeated end keeps the first end time: a job's duration (GET /metrics) never moves to another bucket.
    ended_at = job.finished_at if job.status in ENDED and job.finished_at else now
    job.status = status
    job.pr_link = pr_link or job.pr_link
    if error is not None or error_kind is not None:
        job.error, job.error_kind = error, error_kind
    if status not in (QUEUED, IN_PROGRESS):
        job.order_in_queue, job.finished_at = None, ended_at
    if was_queued or status == QUEUED:
        renumber(session, job.project_key)
    return _ref(job)
