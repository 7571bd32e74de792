"""Job log storage on SQLite and PostgreSQL: a replayed line is stored once, reads resume from a row id."""

from __future__ import annotations

from datetime import UTC, datetime

from app.store.db import make_engine, make_session_factory
from app.store.job_logs import LogLine, read_lines, store_lines
from app.store.models import AgentJob


def test_replayed_lines_are_stored_once(database_url: str) -> None:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    first = [LogLine("job-1", seq, "INFO", "CODE", f"line {seq}", now) for seq in (1, 2, 3)]
    store_lines(factory, first)
    # A retry re-attaches from an older cursor: lines 2-3 come again, 4 is new; another job's seq 1 is distinct.
    store_lines(factory, [LogLine("job-1", seq, "INFO", "CODE", f"again {seq}", now) for seq in (2, 3, 4)])
    store_lines(factory, [LogLine("job-2", 1, "WARNING", "TEST", "other job", now)])
    with factory() as session:
        rows = read_lines(session, "job-1")
        assert [(r.seq, r.message) for r in rows] == [(1, "line 1"), (2, "line 2"), (3, "line 3"), (4, "again 4")]
        assert rows[0].created_at == now
        assert [r.seq for r in read_lines(session, "job-1", after_id=rows[1].id)] == [3, 4]
        assert [r.message for r in read_lines(session, "job-2")] == ["other job"]
    engine.dispose()


def test_nul_characters_from_a_process_are_stored_not_refused(database_url: str) -> None:
    """A tool's output may carry NUL; PostgreSQL text refuses it, so it is replaced, and the line is kept."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    store_lines(factory, [LogLine("job-nul", 1, "INFO\x00", "CO\x00DE", "binary\x00output", datetime.now(UTC))])
    with factory.begin() as session:
        session.add(
            AgentJob(
                id="job-nul",
                orchestration_run_id="r",
                issue_key="NUL-1",
                project_key="NUL",
                phase="CODE",
                command="CODE",
                attempt=1,
                summary="done\x00",
                error="bad\x00byte",
            )
        )
    with factory() as session:
        [row] = read_lines(session, "job-nul")
        assert (row.level, row.stage, row.message) == ("INFO", "CODE", "binary\ufffdoutput")
        job = session.get(AgentJob, "job-nul")
        assert job is not None and (job.summary, job.error) == ("done\ufffd", "bad\ufffdbyte")
    engine.dispose()
