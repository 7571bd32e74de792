"""Live agent job logs: JSON pages and a Server-Sent-Events stream that follows `job_logs` across processes.

The worker's dispatch activity stores every line the agent streams; any web process follows the table with a
cursor on the row id, so subscribers need no broker and miss nothing across reconnects (`Last-Event-ID`).
A job's lines include those of its lifecycle sub-jobs (`<job_id>:runVerification`, `:createPR`, `:cleanup`).

Stage changes (the seed's stage-change events): when a line's stage differs from the stage of the line before it
(`workspace` → `CODE` → `push` ...), the stream sends an `event: stage` with the old and new stage just before
that line. A reconnect learns the stage it last saw from the line at its cursor, so it neither misses a change
nor repeats one, except when the connection drops between a stage event and its line (it carries that line's id
as `line_id`, so a client can tell).

A stream holds a thread while it is open. Each web process runs WEB_MAX_STREAMS threads for streams on top of its
WEB_THREADS (app/web/gunicorn_conf.py) and serves at most that many streams at once (one more is answered 503 with
Retry-After), so open viewers never take the threads that answer Jira's webhooks. Their reads of the database go
through STREAM_READERS connections at most (a gate, and that many more in the pool), so they never wait for, nor
hold, the connections webhooks use. Streams need a bearer token or a console session, as every route here does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, stream_with_context
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.agent_client.protocol import job_id_problem
from app.store.models import AgentJob, JobLog
from app.web.auth import require_token

bp = Blueprint("live", __name__, url_prefix="/api/jobs")
bp.before_request(require_token)

PAGE = 500
POLL = 0.5
KEEPALIVE = 15.0
STREAM_MAX = 300.0  # seconds one stream may hold a web thread; EventSource reconnects with Last-Event-ID
ENDED = frozenset({"completed", "failed", "cancelled"})
SLOTS = "live_stream_slots"
RETRY_AFTER = 5  # seconds; EventSource itself retries after its `retry:` delay
STREAM_READERS = 2  # database reads of live streams at once per process (each is one short query)


class StreamSlots:
    """The open live streams of this process, at most `limit` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()
        # Every stream's reads of the database take turns here (a poll is one short query).
        self.reading = threading.BoundedSemaphore(STREAM_READERS)

    def take(self) -> Callable[[], None] | None:
        """Take a slot if one is free; returns its give-back, which frees it once however often it is called."""
        with self._lock:
            if self.open >= self.limit:
                return None
            self.open += 1
        given_back = threading.Event()

        def give_back() -> None:
            with self._lock:
                if not given_back.is_set():
                    given_back.set()
                    self.open -= 1

        return give_back


@bp.record_once
def _make_slots(state: BlueprintSetupState) -> None:
    state.app.extensions[SLOTS] = StreamSlots(state.app.extensions["settings"].web.max_streams)


def _job_id(raw: str) -> str:
    problem = job_id_problem(raw)
    if problem:
        abort(400, description=problem)
    return raw


def _int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name) or (request.headers.get("Last-Event-ID") if name == "after_id" else None)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        abort(400, description=f"{name} must be a whole number")
    return min(int(raw), maximum)


def _of_job(job_id: str) -> ColumnElement[bool]:
    return or_(JobLog.job_id == job_id, JobLog.job_id.startswith(f"{job_id}:", autoescape=True))


def _lines(session: Session, job_id: str, after_id: int, limit: int) -> list[JobLog]:
    query = select(JobLog).where(_of_job(job_id), JobLog.id > after_id).order_by(JobLog.id).limit(limit)
    return list(session.scalars(query))


def _stage_at(session: Session, job_id: str, after_id: int) -> str:
    """The last stage named at or before the cursor: the stage a resuming subscriber saw last."""
    if after_id <= 0:
        return ""
    named = (_of_job(job_id), JobLog.id <= after_id, JobLog.stage != "")
    query = select(JobLog.stage).where(*named).order_by(JobLog.id.desc()).limit(1)
    return session.scalar(query) or ""


def stage_changes(rows: list[JobLog], stage: str) -> Iterator[tuple[JobLog, str | None]]:
    """Each row with the stage it leaves (None when it stays in the same stage); a line with no stage changes none."""
    for row in rows:
        if row.stage and row.stage != stage:
            yield row, stage
            stage = row.stage
        else:
            yield row, None


def _as_json(row: JobLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "job_id": row.job_id,
        "seq": row.seq,
        "level": row.level,
        "stage": row.stage,
        "message": row.message,
        "time": row.created_at.isoformat(),
    }


@bp.get("/<job_id>/logs")
def job_logs(job_id: str) -> ResponseReturnValue:
    """A page of the job's log lines after `after_id` (oldest first) and the cursor for the next page."""
    job_id = _job_id(job_id)
    after_id = _int_arg("after_id", 0, 2**62)
    limit = max(1, _int_arg("limit", PAGE, PAGE))
    factory: sessionmaker[Session] = current_app.extensions["session_factory"]
    with factory() as session:
        rows = _lines(session, job_id, after_id, limit)
        status = session.scalar(select(AgentJob.status).where(AgentJob.id == job_id))
    return jsonify(
        job_id=job_id,
        status=status,
        lines=[_as_json(row) for row in rows],
        next_after_id=rows[-1].id if rows else after_id,
    )


@bp.get("/<job_id>/logs/stream")
def stream_job_logs(job_id: str) -> ResponseReturnValue:
    """Server-Sent Events: every line after `after_id` (or Last-Event-ID), then new ones as they are stored."""
    job_id = _job_id(job_id)
    after_id = _int_arg("after_id", 0, 2**62)
    seconds = float(_int_arg("timeout", int(STREAM_MAX), int(STREAM_MAX)))
    factory: sessionmaker[Session] = current_app.extensions["session_factory"]
    reading = current_app.extensions[SLOTS].reading
    return slotted_stream(lambda: _follow(factory, job_id, after_id, seconds, reading))


def slotted_stream(events: Callable[[], Iterator[str]]) -> ResponseReturnValue:
    """A Server-Sent Events response holding one of this process's stream slots; 503 (Retry-After) when none is
    free. The slot is freed when the stream ends, or when the server closes the response (the client went, or it
    was never read)."""
    slots: StreamSlots = current_app.extensions[SLOTS]
    give_back = slots.take()
    if give_back is None:
        busy = f"{slots.limit} live streams are open on this web process (WEB_MAX_STREAMS); try again shortly"
        return jsonify(error=busy), 503, {"Retry-After": str(RETRY_AFTER)}
    response = Response(
        stream_with_context(_holding(give_back, events())),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(give_back)
    return response


def _holding(give_back: Callable[[], None], events: Iterator[str]) -> Iterator[str]:
    try:
        yield from events
    finally:
        give_back()


@dataclass(frozen=True)
class LiveEvent:
    """One event of a job's live log: `log` (with the line's id, the cursor), `stage`, `end`, or `keepalive`."""

    kind: str
    data: dict[str, Any] | None = None
    id: int | None = None


def follow_job(
    factory: sessionmaker[Session], job_id: str, after_id: int, seconds: float, reading: AbstractContextManager[Any]
) -> Iterator[LiveEvent]:
    """The job's lines after the cursor, then new ones as they are stored, until it ends or `seconds` pass (the
    one follower of `job_logs` for every transport: SSE here, WebSocket in live_ws.py); `reading` gates its
    reads of the database (the process's StreamSlots.reading)."""
    deadline = time.monotonic() + seconds
    last_sent = time.monotonic()
    with reading, factory() as session:
        stage = _stage_at(session, job_id, after_id)
    while True:
        with reading, factory() as session:
            rows = _lines(session, job_id, after_id, PAGE)
            status = None if rows else session.scalar(select(AgentJob.status).where(AgentJob.id == job_id))
        for row, left in stage_changes(rows, stage):
            if left is not None:
                change = {"job_id": row.job_id, "from": left or None, "to": row.stage, "line_id": row.id}
                yield LiveEvent("stage", {**change, "time": row.created_at.isoformat()})
                stage = row.stage
            after_id = row.id
            yield LiveEvent("log", _as_json(row), row.id)
            last_sent = time.monotonic()
        if status in ENDED:
            yield LiveEvent("end", {"job_id": job_id, "status": status})
            return
        if time.monotonic() >= deadline:
            return
        if not rows:
            if time.monotonic() - last_sent >= KEEPALIVE:
                yield LiveEvent("keepalive")
                last_sent = time.monotonic()
            time.sleep(POLL)


def _follow(
    factory: sessionmaker[Session], job_id: str, after_id: int, seconds: float, reading: threading.BoundedSemaphore
) -> Iterator[str]:
    yield "retry: 2000\n\n"
    for event in follow_job(factory, job_id, after_id, seconds, reading):
        if event.kind == "keepalive":
            yield ": keepalive\n\n"
            continue
        cursor = f"id: {event.id}\n" if event.id is not None else ""
        yield f"{cursor}event: {event.kind}\ndata: {json.dumps(event.data)}\n\n"
