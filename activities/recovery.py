"""Orphan and stuck job recovery: which in-progress jobs might be lost, and putting a lost one back (or failing it).

A job's last sign of life is the latest of its row's update, its claim, its newest log line (the agent streams
lines while it works) and its dispatch activity's last recorded heartbeat (app/jobqueue/liveness.py), so a long
job is never taken for stuck while the activity still follows it, even when its command prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from app.jobqueue import edits
from app.jobqueue.order import IN_PROGRESS
from app.store.models import AgentJob, JobLog, utcnow
from workflows.queue_types import Recovery


@dataclass(frozen=True)
class SuspectQuery:
    """Which in-progress jobs to look at: all, or those of one agent."""

    agent_id: str | None = None


@dataclass(frozen=True)
class Suspect:
    """An in-progress job, the workflow that should be running it, and how long it has been quiet."""

    job_id: str
    issue_key: str
    orchestration_run_id: str
    agent_id: str | None
    workflow_id: str | None
    run_id: str | None
    idle_seconds: float
    claimed_seconds: float


@dataclass(frozen=True)
class SuspectList:
    """The suspects, with the thresholds the sweep judges them by (from settings)."""

    suspects: list[Suspect]
    stuck_after_seconds: float
    grace_seconds: float


@dataclass(frozen=True)
class RecoverInput:
    """Recover this job from this lost workflow run (nothing happens if the job has moved on)."""

    job_id: str
    run_id: str | None
    reason: str


class RecoveryActivities:
    """Finds possibly lost jobs and recovers them; `max_recoveries` bounds how often one job goes back."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        stuck_after: timedelta = timedelta(minutes=60),
        max_recoveries: int = 3,
        grace: timedelta = timedelta(minutes=2),
    ) -> None:
        self.session_factory = session_factory
        self.stuck_after = stuck_after
        self.max_recoveries = max_recoveries
        # A job claimed moments ago may not have its workflow yet: it is not an orphan before this much time.
        self.grace = grace

    @activity.defn
    def list_recovery_suspects(self, query: SuspectQuery) -> SuspectList:
        """Every in-progress job (of one agent, or all) with how long it has been quiet and since its claim."""
        now = utcnow()
        with self.session_factory() as session:
            select_jobs = select(AgentJob).where(AgentJob.status == IN_PROGRESS).order_by(AgentJob.id)
            if query.agent_id is not None:
                select_jobs = select_jobs.where(AgentJob.agent_id == query.agent_id)
            suspects = [self._suspect(session, job, now) for job in session.scalars(select_jobs)]
        return SuspectList(suspects, self.stuck_after.total_seconds(), self.grace.total_seconds())

    def _suspect(self, session: Session, job: AgentJob, now: datetime) -> Suspect:
        # Lines of the job's lifecycle steps are stored as `<job_id>:<step>` (app/web/live.py).
        last_line = session.scalar(
            select(func.max(JobLog.created_at)).where(
                or_(JobLog.job_id == job.id, JobLog.job_id.startswith(f"{job.id}:", autoescape=True))
            )
        )
        claimed = job.started_at or job.updated_at
        signs = [job.updated_at, claimed] + [sign for sign in (last_line, job.heartbeat_at) if sign is not None]
        return Suspect(
            job_id=job.id,
            issue_key=job.issue_key,
            orchestration_run_id=job.orchestration_run_id,
            agent_id=job.agent_id,
            workflow_id=job.temporal_workflow_id,
            run_id=job.temporal_run_id,
            idle_seconds=max(0.0, (now - max(signs)).total_seconds()),
            claimed_seconds=max(0.0, (now - claimed).total_seconds()),
        )

    @activity.defn
    def recover_job(self, request: RecoverInput) -> Recovery:
        """Back to the head of its project's queue, or failed once it has been recovered `max_recoveries` times."""
        with self.session_factory.begin() as session:
            recovery = edits.recover(
                session, request.job_id, request.run_id, request.reason, self.max_recoveries, utcnow()
            )
        activity.logger.warning(
            "queue.job-recovered job=%s outcome=%s recoveries=%d reason=%s",
            request.job_id,
            recovery.outcome,
            recovery.recoveries,
            request.reason,
        )
        return recovery
