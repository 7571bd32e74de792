"""The retention sweep's one activity: delete the database rows no live run needs once they are old enough."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from app.config.retention import RetentionSettings
from app.store.models import utcnow
from app.store.retention import purge_expired


@dataclass(frozen=True)
class PurgeRequest:
    """One sweep (the ages and the batch size are the worker's settings)."""


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted per kind (job specs: cleared), and the kinds with more left for the next sweep."""

    counts: dict[str, int] = field(default_factory=dict)
    more: list[str] = field(default_factory=list)


class RetentionActivities:
    """Deletes expired rows (database) in batches, heartbeating after each."""

    def __init__(self, session_factory: sessionmaker[Session], retention: RetentionSettings) -> None:
        self.session_factory = session_factory
        self.retention = retention

    @activity.defn
    def purge_expired_rows(self, request: PurgeRequest) -> PurgeReport:
        """Delete what is older than its retention age and belongs to no live run; a retry redoes only what is left."""
        purged = purge_expired(self.session_factory, self.retention, utcnow(), heartbeat=activity.heartbeat)
        return PurgeReport(purged.counts, purged.more)
