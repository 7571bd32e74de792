"""Live job logs over WebSocket (seed 000's transport): the same lines, stage changes and end as the SSE stream.

`/ws/jobs/<job_id>/logs?after_id=N` sends one JSON message per event: `{"type": "log", "id": ..., ...}`,
`{"type": "stage", ...}`, `{"type": "end", ...}`; a client that reconnects with the last `id` it saw as
`after_id` misses nothing and sees nothing twice. The handshake needs a bearer token or a console session (the
blueprint's check runs before it), and a connection takes one of the process's WEB_MAX_STREAMS slots, as an SSE
stream does, so viewers never take the threads that answer Jira's webhooks; beyond the cap the handshake is
answered 503 with Retry-After.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_sock import Sock
from sqlalchemy.orm import Session, sessionmaker

from app.agent_client.protocol import job_id_problem
from app.web.auth import require_token
from app.web.live import RETRY_AFTER, SLOTS, STREAM_MAX, StreamSlots, follow_job

bp = Blueprint("live_ws", __name__, url_prefix="/ws/jobs")
bp.before_request(require_token)
sock = Sock()


@bp.before_request
def _free_slot() -> ResponseReturnValue | None:
    """Refuse the handshake (503) when every live-stream slot of this process is taken."""
    slots: StreamSlots = current_app.extensions[SLOTS]
    give_back = slots.take()
    if give_back is None:
        busy = f"{slots.limit} live streams are open on this web process (WEB_MAX_STREAMS); try again shortly"
        return jsonify(error=busy), 503, {"Retry-After": str(RETRY_AFTER)}
    g.give_back_slot = give_back
    return None


@bp.teardown_request
def _give_back_slot(_error: BaseException | None) -> None:
    # Also when the handshake itself fails: the slot must not leak. Giving back twice frees it once.
    give_back = g.pop("give_back_slot", None)
    if give_back is not None:
        give_back()


def job_logs_socket(ws: Any, job_id: str) -> None:
    """Send the job's lines after `after_id`, then new ones as they are stored, until the job ends."""
    problem = job_id_problem(job_id)
    raw = request.args.get("after_id", "0")
    if problem or not raw.isdigit():
        ws.send(json.dumps({"type": "error", "error": problem or "after_id must be a whole number"}))
        return
    factory: sessionmaker[Session] = current_app.extensions["session_factory"]
    slots: StreamSlots = current_app.extensions[SLOTS]
    for event in follow_job(factory, job_id, int(raw), STREAM_MAX, slots.reading):
        if event.kind == "keepalive":
            ws.send(json.dumps({"type": "keepalive"}))
            continue
        ws.send(json.dumps({"type": event.kind, **(event.data or {})}))


# Registered by a call, not as a decorator: flask-sock is untyped, and the handler keeps its own signature.
sock.route("/<job_id>/logs", bp=bp)(job_logs_socket)
