"""Deleting what no live run needs once it is older than its retention age, in small batches, on either database.

A row belongs to a live run when its orchestration is starting, running, waiting at a gate or paused, or has
failed without ending (it waits for `/retry`), or when its job is queued or in progress: such rows are kept
whatever their age. Orchestration rows themselves are kept (one small row per run; the reconciliation sweep
reads them to know an issue was ever started).

Each batch is its own transaction (select at most `batch_size` keys, delete those), so a sweep never holds a long
lock, and a sweep stops after `max_batches` per kind: the rest goes at the next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from app.config.retention import KEEP, RetentionSettings
from app.jobqueue.order import ENDED, IN_PROGRESS, QUEUED
from app.store.live_runs import live_issue_keys, live_run_ids
from app.store.models import AgentJob, Checkpoint, JobLog, NotificationDelivery, WebhookDelivery

MAX_BATCHES = 200  # per kind and sweep: 100,000 rows at the default batch size


@dataclass
class Purged:
    """How many rows of each kind a sweep deleted (job specs: cleared), and whether some are left for the next."""

    counts: dict[str, int] = field(default_factory=dict)
    more: list[str] = field(default_factory=list)


def _ended_job(cutoff: datetime) -> ColumnElement[bool]:
    # Ended, ended before the cutoff, and not part of a live run (whose /retry may still read it).
    ended_at = func.coalesce(AgentJob.finished_at, AgentJob.updated_at)
    return and_(AgentJob.status.in_(ENDED), ended_at < cutoff, AgentJob.orchestration_run_id.not_in(live_run_ids()))


def purge_expired(
    session_factory: sessionmaker[Session],
    retention: RetentionSettings,
    now: datetime,
    heartbeat: Callable[[str], None] = lambda _kind: None,
    max_batches: int = MAX_BATCHES,
) -> Purged:
    """Delete every expired row no live run needs; `heartbeat(kind)` is called after each batch."""
    purged = Purged()
    batch = retention.batch_size

    def run(kind: str, age: timedelta, step: Callable[[Session, datetime, int], int]) -> None:
        if age == KEEP:
            return
        cutoff, total = now - age, 0
        for _ in range(max_batches):
            with session_factory.begin() as session:
                done = step(session, cutoff, batch)
            total += done
            heartbeat(kind)
            if done < batch:
                break
        else:
            purged.more.append(kind)
        purged.counts[kind] = total

    run("deliveries", retention.deliveries, _purge_deliveries)
    run("job_logs", retention.job_logs, _purge_job_logs)
    run("job_specs", retention.job_specs, _clear_job_specs)
    run("jobs", retention.jobs, _purge_jobs)
    run("checkpoints", retention.checkpoints, _purge_checkpoints)
    run("notifications", retention.notifications, _purge_notifications)
    return purged


def _delete_batch(session: Session, key: InstrumentedAttribute[Any], where: ColumnElement[bool], batch: int) -> int:
    # Select the keys first: DELETE ... LIMIT is not portable (PostgreSQL has none), a keyed IN list is.
    keys = list(session.scalars(select(key).where(where).order_by(key).limit(batch)))
    if keys:
        session.execute(delete(key.class_).where(key.in_(keys)))
    return len(keys)


def _purge_deliveries(session: Session, cutoff: datetime, batch: int) -> int:
    # A live run's deliveries stay: they are what makes a late redelivery of its commands a no-op.
    where = and_(
        WebhookDelivery.received_at < cutoff,
        or_(WebhookDelivery.issue_key.is_(None), WebhookDelivery.issue_key.not_in(live_issue_keys())),
    )
    return _delete_batch(session, WebhookDelivery.id, where, batch)


def _purge_job_logs(session: Session, cutoff: datetime, batch: int) -> int:
    live_jobs = select(AgentJob.id).where(
        or_(AgentJob.status.in_((QUEUED, IN_PROGRESS)), AgentJob.orchestration_run_id.in_(live_run_ids()))
    )
    where = and_(JobLog.created_at < cutoff, JobLog.job_id.not_in(live_jobs))
    return _delete_batch(session, JobLog.id, where, batch)


def _clear_job_specs(session: Session, cutoff: datetime, batch: int) -> int:
    # The spec (the whole JobInput) is read only to start a queued job: an ended job keeps its row without it.
    where = and_(AgentJob.spec.is_not(None), _ended_job(cutoff))
    keys = list(session.scalars(select(AgentJob.id).where(where).order_by(AgentJob.id).limit(batch)))
    if keys:
        session.execute(update(AgentJob).where(AgentJob.id.in_(keys)).values(spec=None))
    return len(keys)


def _purge_jobs(session: Session, cutoff: datetime, batch: int) -> int:
    keys = list(session.scalars(select(AgentJob.id).where(_ended_job(cutoff)).order_by(AgentJob.id).limit(batch)))
    if keys:
        session.execute(delete(JobLog).where(JobLog.job_id.in_(keys)))
        session.execute(delete(AgentJob).where(AgentJob.id.in_(keys)))
    return len(keys)


def _purge_checkpoints(session: Session, cutoff: datetime, batch: int) -> int:
    where = and_(Checkpoint.updated_at < cutoff, Checkpoint.temporal_run_id.not_in(live_run_ids()))
    return _delete_batch(session, Checkpoint.id, where, batch)


def _purge_notifications(session: Session, cutoff: datetime, batch: int) -> int:
    # A live run's notification keys stay: they are what makes a retried send post nothing twice.
    where = and_(NotificationDelivery.created_at < cutoff, NotificationDelivery.issue_key.not_in(live_issue_keys()))
    return _delete_batch(session, NotificationDelivery.key, where, batch)
