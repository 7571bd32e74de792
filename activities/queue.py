"""The job queue's activities: enqueue, claim (the seed's getNextJob, atomically), withdraw, idle agents, logToJob.

Each is a sync method doing one transaction through app.jobqueue; a change that does not fit the job's state
is a non-retryable ValidationError, so the workflow sees it at once instead of retrying it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.jobqueue import agents, claims, edits
from app.jobqueue.edits import QueueError
from app.jobqueue.locks import dialect
from app.store.job_logs import MAX_MESSAGE
from app.store.models import AgentJob, JobLog, utcnow
from workflows.job_types import JobInput

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class EnqueueInput:
    """The orchestration hands its (already created) job to the queue, with everything the job workflow needs.

    The job's prompt and context may be left empty: the queue takes them from the job's row (create_job stored
    them), so the orchestration's history holds its largest payload once per job, not twice."""

    job: JobInput


@dataclass(frozen=True)
class AgentRef:
    """Which agent (its id is its address)."""

    agent_id: str


@dataclass(frozen=True)
class ClaimedJob:
    """A job the queue gave an agent: start `workflow_id` with `job`."""

    job: JobInput
    agent_id: str
    workflow_id: str


@dataclass(frozen=True)
class JobLogEntry:
    """The seed's logToJob: one line about a job from the orchestrator's side (not the agent's stream)."""

    job_id: str
    level: str
    message: str
    stage: str = ""


@dataclass(frozen=True)
class RemoveInput:
    """Take a queued job out of the queue, saying why (who removed it)."""

    job_id: str
    reason: str


@dataclass(frozen=True)
class IdleAgentsQuery:
    """Online, healthy agents without a job (no parameters; one dataclass so fields can be added)."""


def job_input_from_spec(spec: str) -> JobInput:
    """The JobInput stored with a queued job (fields a newer release added are ignored)."""
    known = {f.name for f in fields(JobInput)}
    data = {key: value for key, value in json.loads(spec).items() if key in known}
    return JobInput(**data)


def _invalid(err: QueueError) -> ApplicationError:
    return ApplicationError(str(err), type="ValidationError", non_retryable=True)


class QueueActivities:
    """The queue in the database: enqueue, claim (atomic), status, logs, removal and queue status."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    @activity.defn
    def enqueue_job(self, request: EnqueueInput) -> None:
        """Store the job's spec so a queue monitor may claim it (idempotent); an empty prompt or context is the
        job row's."""
        job = request.job
        try:
            with self.session_factory.begin() as session:
                if not job.prompt or not job.context:
                    row = session.get(AgentJob, job.job_id)
                    if row is None:
                        raise QueueError(f"job {job.job_id} does not exist: create it before it is queued")
                    job = replace(job, prompt=job.prompt or row.prompt, context=job.context or row.context)
                edits.enqueue(session, job.job_id, json.dumps(asdict(job), sort_keys=True))
        except QueueError as err:
            raise _invalid(err) from None

    @activity.defn
    def claim_next_job(self, agent: AgentRef) -> ClaimedJob | None:
        """Atomically give the agent its next job (rework first, then position); None when there is none for it."""
        with self.session_factory.begin() as session:
            claim = claims.claim_next_job(session, agent.agent_id)
        if claim is None:
            return None
        activity.logger.info("queue.claimed job=%s agent=%s", claim.job_id, claim.agent_id)
        return ClaimedJob(job_input_from_spec(claim.spec), claim.agent_id, claim.workflow_id)

    @activity.defn
    def log_to_job(self, entry: JobLogEntry) -> None:
        """Store one orchestrator-side line for the job (level, message, stage), beside the agent's own lines."""
        level = entry.level.lower()
        if level not in LOG_LEVELS:
            raise _invalid(QueueError(f"unknown log level {entry.level!r}; expected one of {', '.join(LOG_LEVELS)}"))
        # The agent numbers its lines from 1; ours count down from -1, so the two never take each other's seq.
        for _ in range(5):
            if self._store_line(entry, level):
                return
        raise ApplicationError(f"could not number a log line of job {entry.job_id} (too many concurrent writers)")

    def _store_line(self, entry: JobLogEntry, level: str) -> bool:
        with self.session_factory.begin() as session:
            lowest = session.scalar(select(func.min(JobLog.seq)).where(JobLog.job_id == entry.job_id))
            row = {
                "job_id": entry.job_id,
                "seq": min(lowest or 0, 0) - 1,
                "level": level,
                # PostgreSQL text cannot hold NUL; it carries no meaning in a log line anyway.
                "stage": entry.stage.replace("\x00", "")[:64],
                "message": entry.message.replace("\x00", "")[:MAX_MESSAGE],
                "created_at": utcnow(),
            }
            insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
            result = session.execute(
                insert(JobLog).values(row).on_conflict_do_nothing(index_elements=["job_id", "seq"])
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    @activity.defn
    def list_idle_agents(self, _query: IdleAgentsQuery) -> list[str]:
        """Online, healthy agents with no job in progress."""
        with self.session_factory() as session:
            return agents.idle_agents(session)

    @activity.defn
    def withdraw_job(self, request: RemoveInput) -> edits.Withdrawal:
        """The orchestration cancels its job: removed while queued, else the workflow it runs in, or ended."""
        try:
            with self.session_factory.begin() as session:
                return edits.withdraw(session, request.job_id, request.reason, utcnow())
        except QueueError as err:
            raise _invalid(err) from None
