"""A job's heartbeat in the store: its dispatch activity is still following it, whether or not it prints.

The recovery sweep judges "stuck" by a job's last sign of life. Log lines alone mislead: a coding tool may print
nothing for an hour and still be working. The dispatch activity heartbeats Temporal while it streams; it also
stamps the job here (throttled), and the sweep counts that stamp as a sign of life. A stamp from a job workflow
run the job no longer belongs to (recovered, rerun) changes nothing, so a leftover activity cannot keep a
requeued job looking alive.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.jobqueue.order import IN_PROGRESS
from app.store.models import AgentJob


def job_of(agent_job_id: str) -> str:
    """The queue job an agent job id belongs to (`<job>` or a lifecycle step's `<job>:<step>`)."""
    return agent_job_id.split(":", 1)[0]


def record_heartbeat(session: Session, agent_job_id: str, run_id: str, now: datetime) -> bool:
    """Stamp the in-progress job that job workflow run `run_id` executes; False when the job has moved on."""
    stamped = session.execute(
        update(AgentJob)
        .where(
            AgentJob.id == job_of(agent_job_id),
            AgentJob.status == IN_PROGRESS,
            AgentJob.temporal_run_id == run_id,
        )
        # A heartbeat is not an edit of the job: `updated_at` keeps telling when the record last changed.
        .values(heartbeat_at=now, updated_at=AgentJob.updated_at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(stamped, "rowcount", 0))
