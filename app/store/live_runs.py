"""Which orchestrations are live, and how many a project or a person has: what retention and start caps read."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.store.models import Orchestration

LIVE_RUN_STATUSES = ("starting", "running", "waiting_for_approval", "paused")


def is_live() -> ColumnElement[bool]:
    """An orchestration row that is starting, running, at a gate, paused, or failed without ending (awaiting /retry)."""
    failed_open = and_(Orchestration.status == "failed", Orchestration.finished_at.is_(None))
    return or_(Orchestration.status.in_(LIVE_RUN_STATUSES), failed_open)


def live_run_ids() -> Select[str]:
    """Temporal run ids of the live orchestrations."""
    return select(Orchestration.temporal_run_id).where(is_live())


def live_issue_keys() -> Select[str]:
    """Issue keys with a live orchestration."""
    return select(Orchestration.issue_key).where(is_live())


def has_live_run(session: Session, issue_key: str) -> bool:
    """True when the issue has a live orchestration."""
    query = select(Orchestration.id).where(is_live(), Orchestration.issue_key == issue_key.upper()).limit(1)
    return session.scalar(query) is not None


def count_live_issues(session: Session, *, project_key: str | None = None, started_by: str | None = None) -> int:
    """Issues with a live orchestration, in a project and/or started by a person (an issue counts once)."""
    query = select(func.count(func.distinct(Orchestration.issue_key))).where(is_live())
    if project_key is not None:
        query = query.where(Orchestration.project_key == project_key)
    if started_by is not None:
        query = query.where(Orchestration.started_by == started_by)
    return session.scalar(query) or 0
