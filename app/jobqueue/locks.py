"""What makes a queue change atomic: SQLite's write lock taken up front, PostgreSQL's row locks.

SQLite has no row locks, so a transaction that reads and then writes (is the agent idle? is the project free?
then claim) starts with `BEGIN IMMEDIATE`: it holds the database's one write lock from its first statement,
and other writers wait (busy timeout) instead of acting on what they read before our commit. PostgreSQL locks
just the rows involved: the agent's row (one claim per agent at a time) and the project's queue row (one
claim per project at a time; a claim skips a project another claim holds, `FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.store.models import Agent, ProjectQueue, utcnow


def dialect(session: Session) -> str:
    """The session's database: `sqlite` or `postgresql`."""
    return session.get_bind().dialect.name


def begin_write(session: Session) -> None:
    """On SQLite take the write lock now (BEGIN IMMEDIATE) unless this transaction already holds it."""
    if dialect(session) != "sqlite":
        return
    # pysqlite opens a transaction only before its first write (which takes the write lock) or when told to:
    # an open transaction here already holds the lock, and reads made so far ran outside any transaction.
    if not session.connection().connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        session.execute(text("BEGIN IMMEDIATE"))


def ensure_project(session: Session, project_key: str) -> None:
    """Create the project's queue row (not paused) unless it exists."""
    if session.get(ProjectQueue, project_key) is not None:
        return
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    values = {"project_key": project_key, "paused": False, "updated_at": utcnow()}
    session.execute(insert(ProjectQueue).values(values).on_conflict_do_nothing(index_elements=["project_key"]))


def lock_project(session: Session, project_key: str, *, skip_locked: bool = False) -> ProjectQueue | None:
    """The project's queue row, locked until commit; None when `skip_locked` and another transaction holds it."""
    ensure_project(session, project_key)
    query = select(ProjectQueue).where(ProjectQueue.project_key == project_key)
    if dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked)
    return session.scalars(query.execution_options(populate_existing=True)).first()


def lock_agent(session: Session, agent_id: str) -> Agent | None:
    """The agent's row, locked until commit (claims for one agent queue up behind each other)."""
    query = select(Agent).where(Agent.id == agent_id)
    if dialect(session) == "postgresql":
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()
