"""Activities that keep the database's record of orchestrations in step with Temporal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.jobs import CheckpointInput, store_checkpoint
from app.store.models import Orchestration, utcnow


@dataclass(frozen=True)
class OrchestrationRecord:
    """What the workflow reports about its run; written as an upsert keyed by the run id."""

    issue_key: str
    project_key: str
    workflow_id: str
    run_id: str
    status: str
    current_phase: str | None = None
    started_by: str | None = None
    error: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class PhaseEnd:
    """A phase has ended: the run's row as it now is, and the state to save as that phase's checkpoint."""

    record: OrchestrationRecord
    checkpoint: CheckpointInput


@dataclass(frozen=True)
class RunLinksInput:
    """Which run to link to."""

    issue_key: str
    workflow_id: str
    run_id: str


@dataclass(frozen=True)
class RunLinks:
    """Where a person can watch the run: the Temporal UI and the dashboard."""

    temporal: str
    dashboard: str


class RecordActivities:
    """Database writes about orchestrations (idempotent: safe to retry), and links to the run."""

    def __init__(self, session_factory: sessionmaker[Session], temporal_ui: str = "", dashboard_url: str = "") -> None:
        self.session_factory = session_factory
        self.temporal_ui = temporal_ui
        self.dashboard_url = dashboard_url

    @activity.defn
    def run_links(self, target: RunLinksInput) -> RunLinks:
        """Links to this run in the Temporal UI and on the dashboard (configured URLs, so not in workflow code)."""
        return RunLinks(
            temporal=f"{self.temporal_ui}/workflows/{target.workflow_id}/{target.run_id}",
            dashboard=f"{self.dashboard_url}/orchestrations/{target.issue_key}",
        )

    @activity.defn
    def record_orchestration(self, record: OrchestrationRecord) -> None:
        """Insert or update the row of this run."""
        with self.session_factory.begin() as session:
            store_record(session, record)

    @activity.defn
    def record_phase_end(self, end: PhaseEnd) -> None:
        """Update the run's row and save its checkpoint, in one transaction (one activity where there were two)."""
        with self.session_factory.begin() as session:
            store_record(session, end.record)
            store_checkpoint(session, end.checkpoint)


def store_record(session: Session, record: OrchestrationRecord) -> None:
    """Insert or update the row of this run, in the caller's transaction."""
    row = session.scalars(select(Orchestration).where(Orchestration.temporal_run_id == record.run_id)).first()
    if row is None:
        row = Orchestration(temporal_run_id=record.run_id, created_at=utcnow())
        session.add(row)
    row.issue_key = record.issue_key
    row.project_key = record.project_key
    row.temporal_workflow_id = record.workflow_id
    row.status = record.status
    row.current_phase = record.current_phase
    row.started_by = record.started_by or row.started_by
    row.error = record.error
    row.finished_at = record.finished_at
    row.updated_at = utcnow()
