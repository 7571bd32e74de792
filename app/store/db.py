"""The database engine and session factory (plain SQLAlchemy 2.0; no Flask needed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import DatabaseSettings, Settings

# Connections a process keeps when nobody says how many threads use the database (SQLAlchemy's default).
DEFAULT_POOL = 5


def make_engine(
    url: str, limits: DatabaseSettings | None = None, pool_size: int | None = None, **kwargs: Any
) -> Engine:
    """Create an engine; SQLite files get their folder, WAL, foreign keys and a busy timeout.

    With `limits`, PostgreSQL sessions get statement_timeout and lock_timeout; `pool_size` is how many
    connections the pool keeps (give it the number of threads that use the database at once)."""
    parsed = make_url(url)
    if pool_size is not None:
        kwargs.setdefault("pool_size", pool_size)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {"connect_timeout": 5}
        if limits is not None:  # added to the URL's own `options` (a search_path, say), which connect_args replace
            given = parsed.query.get("options", "")
            connect_args["options"] = " ".join(
                [*([given] if isinstance(given, str) else given), _session_limits(limits)]
            )
        kwargs.setdefault("connect_args", connect_args)
    return create_engine(url, **kwargs)


def engine_for(settings: Settings, threads: int = DEFAULT_POOL) -> Engine:
    """The configured database with its limits, pooled for `threads` threads using it at once."""
    return make_engine(settings.database_url, settings.database, pool_size=threads)


def _session_limits(limits: DatabaseSettings) -> str:
    # A statement stuck behind a lock, or a runaway query, fails after this long instead of holding an activity
    # thread (and its pool connection) until Temporal's timeout; the activity's retry then tries again.
    return f"-c statement_timeout={_ms(limits.statement_timeout)} -c lock_timeout={_ms(limits.lock_timeout)}"


def _ms(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while the worker writes; the busy timeout makes writers queue
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; callers use `with factory.begin() as session:` per logical operation."""
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Run a trivial query; raises when the database cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)
