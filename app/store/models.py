"""Typed SQLAlchemy 2.0 models; every schema change comes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Dialect, Index, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive."""
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


class CleanText(TypeDecorator[str]):
    """Text from agents and people, stored with any NUL character replaced: PostgreSQL text cannot hold NUL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Replace NUL (which a process's output may carry) with U+FFFD."""
        return value.replace("\x00", "\ufffd") if value else value


class Base(DeclarativeBase):
    """Base class of every model."""


class Orchestration(Base):
    """One run of the six-phase workflow for one Jira issue (one row per Temporal run)."""

    __tablename__ = "orchestrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_key: Mapped[str] = mapped_column(String(64), index=True)
    project_key: Mapped[str] = mapped_column(String(64), index=True)
    temporal_workflow_id: Mapped[str] = mapped_column(String(255))
    temporal_run_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="running")
    current_phase: Mapped[str | None] = mapped_column(String(16))
    started_by: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(CleanText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_orchestrations_workflow", "temporal_workflow_id"),)


class WebhookDelivery(Base):
    """A Jira webhook delivery we have acted on, kept so a redelivery or a twin event acts once."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(255), unique=True)
    # A comment arrives twice (comment_created and issue_updated/issue_commented); the unique comment id
    # makes the second one a no-op. NULLs do not collide on SQLite or PostgreSQL.
    comment_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # A captured body re-sent under a new identifier is the same body: its hash is unique too (NULL before 0006).
    body_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    webhook_event: Mapped[str] = mapped_column(String(64))
    issue_key: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(CleanText())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AgentJob(Base):
    """One phase's agent job (the seed's job): queued, claimed by an agent, executed by a JobExecutionWorkflow."""

    __tablename__ = "agent_jobs"

    # Chosen by the orchestration (run id + phase + attempt), so a retried activity re-finds its own job.
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    orchestration_run_id: Mapped[str] = mapped_column(String(64), index=True)
    issue_key: Mapped[str] = mapped_column(String(64), index=True)
    project_key: Mapped[str] = mapped_column(String(64), index=True)
    phase: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(default=1)
    command: Mapped[str] = mapped_column(String(32))
    roles: Mapped[str] = mapped_column(CleanText(), default="")
    prompt: Mapped[str] = mapped_column(CleanText(), default="")
    context: Mapped[str] = mapped_column(CleanText(), default="{}")
    queue_kind: Mapped[str] = mapped_column(String(16), default="backlog")
    order_in_queue: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    agent_id: Mapped[str | None] = mapped_column(String(128), index=True)
    temporal_workflow_id: Mapped[str | None] = mapped_column(String(255))
    temporal_run_id: Mapped[str | None] = mapped_column(String(64))
    pr_link: Mapped[str | None] = mapped_column(CleanText())
    summary: Mapped[str | None] = mapped_column(CleanText())
    outputs: Mapped[str] = mapped_column(CleanText(), default="{}")
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(CleanText())
    recoveries: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last time the job's dispatch activity was still following it (app/jobqueue/liveness.py): a job whose
    # command prints nothing for an hour is alive while this moves, and the stuck sweep reads it.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The job's whole JobInput as JSON, stored when the orchestration hands it to the queue (app/jobqueue);
    # only jobs with a spec are claimed by the queue monitor (older runs start their job workflow directly).
    spec: Mapped[str | None] = mapped_column(CleanText())

    # Covers GET /metrics's jobs-by-state GROUP BY, which then reads this index in order (app/web/metrics.py).
    __table_args__ = (Index("ix_agent_jobs_metrics", "status", "phase", "queue_kind", "error_kind", "recoveries"),)


class JobLog(Base):
    """One log line an agent streamed for a job; `seq` is the agent's line number, so a replay stores nothing twice."""

    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(128), index=True)
    seq: Mapped[int] = mapped_column()
    level: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(CleanText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_job_logs_job_seq"),)


class Agent(Base):
    """A registered gRPC agent and its health."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    address: Mapped[str] = mapped_column(String(255), unique=True)
    roles: Mapped[str] = mapped_column(CleanText(), default="")
    status: Mapped[str] = mapped_column(String(16), default="online")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(CleanText())
    # When the last health check looked (its own clock): a retried record of the same check counts once.
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProjectQueue(Base):
    """One Jira project's job queue: paused or not; its row is also the lock a claim takes on the project."""

    __tablename__ = "project_queues"

    project_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Checkpoint(Base):
    """The orchestration's state saved after a phase (phase, outputs, approvals, attempts) as JSON."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    temporal_run_id: Mapped[str] = mapped_column(String(64))
    issue_key: Mapped[str] = mapped_column(String(64), index=True)
    phase: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(CleanText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("temporal_run_id", "phase", name="uq_checkpoints_run_phase"),)


class NotificationDelivery(Base):
    """One chat notification, keyed by its event: a retried or re-run send finds it sent and posts nothing."""

    __tablename__ = "notifications"

    # Chosen by the workflow per event (run + event + gate), so every attempt of one send shares it.
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    issue_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # What the webhook answered, in our words: never the URL, whose path is the webhook's credential.
    last_error: Mapped[str | None] = mapped_column(CleanText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class User(Base):
    """A named person with a personal token (stored only as its SHA-256) mapped to their Jira account id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Revoked rows stay, so the audit trail keeps who a past actor was; the token no longer opens anything.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
