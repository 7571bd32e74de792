"""Agent job log lines in the `job_logs` table: stored once per (job, seq), read in id order by live followers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from app.store.models import JobLog

MAX_MESSAGE = 8192


@dataclass(frozen=True)
class LogLine:
    """One line as an agent streamed it."""

    job_id: str
    seq: int
    level: str
    stage: str
    message: str
    created_at: datetime


def store_lines(session_factory: sessionmaker[Session], lines: Sequence[LogLine]) -> None:
    """Insert the lines; a (job, seq) already stored (a replay after a retry) is skipped, not duplicated."""
    if not lines:
        return
    rows = [
        {
            "job_id": line.job_id,
            "seq": line.seq,
            "level": line.level.replace("\x00", "")[:16],
            "stage": line.stage.replace("\x00", "")[:64],
            "message": line.message[:MAX_MESSAGE],
            "created_at": line.created_at,
        }
        for line in lines
    ]
    with session_factory.begin() as session:
        dialect = session.get_bind().dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise RuntimeError(f"job logs need SQLite or PostgreSQL, not {dialect}")
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        session.execute(insert(JobLog).on_conflict_do_nothing(index_elements=["job_id", "seq"]), rows)


def read_lines(session: Session, job_id: str, after_id: int = 0, limit: int = 500) -> list[JobLog]:
    """A job's lines with an id above `after_id`, oldest first (ids only grow, so this is a resumable cursor)."""
    query = select(JobLog).where(JobLog.job_id == job_id, JobLog.id > after_id).order_by(JobLog.id).limit(limit)
    return list(session.scalars(query))
