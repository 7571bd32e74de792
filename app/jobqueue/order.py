"""The queue order: rework before backlog, then `order_in_queue`; positions are 1..n per project, no gaps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.store.models import AgentJob

QUEUED = "queued"
IN_PROGRESS = "in_progress"
ENDED = ("completed", "failed", "cancelled")
STATUSES = (QUEUED, IN_PROGRESS, *ENDED)
KINDS = ("rework", "backlog")
# A queued job without a position (created by an older release) sorts after every placed one.
UNPLACED = 2**31 - 1


def claim_order() -> tuple[Any, ...]:
    """ORDER BY terms of the claim order: rework first, then position, then age, then id (a total order)."""
    rank = case((AgentJob.queue_kind == "rework", 0), else_=1)
    return (rank, func.coalesce(AgentJob.order_in_queue, UNPLACED), AgentJob.created_at, AgentJob.id)


def position_order() -> tuple[Any, ...]:
    """ORDER BY terms of the positions an operator sees and moves (`queue move`)."""
    return (func.coalesce(AgentJob.order_in_queue, UNPLACED), AgentJob.created_at, AgentJob.id)


def queued_jobs(session: Session, project_key: str) -> list[AgentJob]:
    """The project's queued jobs by position."""
    query = select(AgentJob).where(AgentJob.project_key == project_key, AgentJob.status == QUEUED)
    return list(session.scalars(query.order_by(*position_order())))


def renumber(session: Session, project_key: str, jobs: list[AgentJob] | None = None) -> int:
    """Give the project's queued jobs positions 1..n in their current order (or in `jobs`' order); returns n."""
    ordered = queued_jobs(session, project_key) if jobs is None else jobs
    for position, job in enumerate(ordered, start=1):
        if job.order_in_queue != position:
            job.order_in_queue = position
    session.flush()
    return len(ordered)


def place_first(session: Session, job: AgentJob) -> None:
    """Put a queued job at position 1 of its project (a recovered job keeps its place at the head)."""
    others = [j for j in queued_jobs(session, job.project_key) if j.id != job.id]
    renumber(session, job.project_key, [job, *others])
