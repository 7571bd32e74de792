"""Run-state change events per issue (Server-Sent Events): status, phase, step, the waiting gate, paused or not.

Each event is a snapshot of the run's state read from the workflow; its id is a digest of that snapshot, so a
browser that reconnects (EventSource sends Last-Event-ID) is sent nothing until the state differs from the one it
last saw: no repeats, and no gap, since the next event is always the state as it is now. A stream holds a
thread, so it takes one of the process's live-stream slots (WEB_MAX_STREAMS) as the job log streams do. Viewers of
one issue in a process share each read (one Temporal query a second per issue, however many watch it).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, abort, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from app.temporal import control
from app.temporal.control import NoRun
from app.temporal.gateway import TemporalGateway, TemporalUnavailable
from app.web.auth import require_token
from app.web.live import KEEPALIVE, STREAM_MAX, slotted_stream
from workflows.ids import is_issue_key

bp = Blueprint("run_events", __name__, url_prefix="/api/orchestrations")
bp.before_request(require_token)

POLL = 1.0  # seconds between reads of the run's state (one Temporal query each)
FIELDS = ("status", "current_phase", "step", "pending_gate", "paused", "pr_url")
SHARED = "run_event_snapshots"

Snapshot = dict[str, Any] | None


class SharedSnapshots:
    """The latest snapshot of each followed issue in this process, read at most once per `max_age` seconds."""

    def __init__(self, max_age: float = POLL) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, Snapshot]] = {}
        self._reading: dict[str, threading.Lock] = {}

    def get(self, key: str, read: Callable[[], Snapshot]) -> Snapshot:
        """The issue's snapshot: the one read within `max_age`, or a fresh one (one reader at a time per issue)."""
        with self._lock:
            reading = self._reading.setdefault(key, threading.Lock())
        with reading:
            with self._lock:
                found = self._latest.get(key)
            if found is not None and time.monotonic() - found[0] < self.max_age:
                return found[1]
            state = read()  # TemporalUnavailable goes to the caller and nothing is kept
            with self._lock:
                self._latest[key] = (time.monotonic(), state)
            return state


@bp.record_once
def _make_shared(state: BlueprintSetupState) -> None:
    state.app.extensions[SHARED] = SharedSnapshots()


def snapshot(temporal: TemporalGateway, issue_key: str) -> Snapshot:
    """The fields of the run's state a viewer follows, or None when the issue has no run."""
    try:
        view = temporal.call(lambda client: control.read(client, issue_key))
    except NoRun:
        return None
    state = view.state
    found = {name: getattr(state, name) for name in FIELDS}
    return {"issue_key": issue_key, "temporal_status": view.temporal_status, **found}


def event_id(state: Snapshot) -> str:
    """The snapshot's id: equal snapshots, equal ids (a reconnect at the same state is sent nothing)."""
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()[:16]


@bp.get("/<issue_key>/events")
def run_events(issue_key: str) -> ResponseReturnValue:
    """`event: state` each time the run's state changes (the first one at once unless Last-Event-ID is current)."""
    key = issue_key.upper()
    if not is_issue_key(key):
        abort(400, description="not an issue key")
    seconds = min(float(request.args.get("timeout", STREAM_MAX) or STREAM_MAX), STREAM_MAX)
    last_seen = request.headers.get("Last-Event-ID", "")[:64]
    temporal: TemporalGateway = current_app.extensions["temporal"]
    shared: SharedSnapshots = current_app.extensions[SHARED]
    return slotted_stream(lambda: _follow(lambda: shared.get(key, lambda: snapshot(temporal, key)), last_seen, seconds))


def _follow(read: Callable[[], Snapshot], last_seen: str, seconds: float) -> Iterator[str]:
    deadline = time.monotonic() + seconds
    last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while time.monotonic() < deadline:
        try:
            state = read()
        except TemporalUnavailable:
            yield "event: unavailable\ndata: {}\n\n"
            return  # the browser reconnects (retry) with its Last-Event-ID
        current = event_id(state)
        if current != last_seen:
            yield f"id: {current}\nevent: state\ndata: {json.dumps(state, default=str)}\n\n"
            last_seen, last_sent = current, time.monotonic()
        elif time.monotonic() - last_sent >= KEEPALIVE:
            yield ": keepalive\n\n"
            last_sent = time.monotonic()
        time.sleep(POLL)
