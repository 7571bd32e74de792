"""Live job logs over WebSocket (issue 14 Live events, seed 000): the lines, stage changes and end of a job, a
reconnect from the last id it saw (no gap, no repeat), the login check on the handshake, and the stream cap.

A real HTTP server (werkzeug, threaded) on loopback and a real WebSocket client (simple-websocket).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import simple_websocket
from flask import Flask
from sqlalchemy import update
from werkzeug.serving import make_server

from app.store.models import AgentJob, JobLog
from app.web.factory import create_app
from app.web.live import SLOTS, StreamSlots
from tests.agent.conftest import wait_for
from tests.conftest import make_settings
from tests.jobqueue.conftest import add_job, job_input

TOKEN = "ws-test-token"


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Flask, str]]:
    app = create_app(
        make_settings(
            tmp_path,
            DATABASE_URL=sqlite_url,
            FEATURE_TEMPORAL_ENABLED="false",
            ORCHESTRATOR_API_TOKEN=TOKEN,
            WEB_MAX_STREAMS="1",
        )
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"ws://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


def job_with_lines(app: Flask, job_id: str, stages: list[str], status: str) -> None:
    factory = app.extensions["session_factory"]
    add_job(factory, job_input(job_id, "WS"))
    with factory.begin() as session:
        for seq, stage in enumerate(stages):
            session.add(JobLog(job_id=job_id, seq=seq, level="info", stage=stage, message=f"line {seq}"))
        session.execute(update(AgentJob).where(AgentJob.id == job_id).values(status=status))


def messages(url: str, until: str = "end") -> list[dict[str, Any]]:
    ws = simple_websocket.Client.connect(url, headers={"Authorization": f"Bearer {TOKEN}"})
    got: list[dict[str, Any]] = []
    try:
        while not got or got[-1]["type"] != until:
            got.append(json.loads(ws.receive(timeout=10)))
    finally:
        with contextlib.suppress(simple_websocket.ConnectionClosed):  # the server closes first once the job ended
            ws.close()
        ws.sock.close()
    return got


def test_a_jobs_lines_stage_changes_and_end_and_a_reconnect_without_gap_or_repeat(served: tuple[Flask, str]) -> None:
    app, base = served
    job_with_lines(app, "ws-1", ["workspace", "workspace", "CODE", "CODE"], "completed")
    first = messages(f"{base}/ws/jobs/ws-1/logs")
    assert [m["type"] for m in first] == ["stage", "log", "log", "stage", "log", "log", "end"]
    assert first[3]["from"] == "workspace" and first[3]["to"] == "CODE" and first[-1]["status"] == "completed"
    lines = [m for m in first if m["type"] == "log"]
    # The server gives the one slot back after the close (a reconnect before that is 503, as the cap says).
    slots: StreamSlots = app.extensions[SLOTS]
    wait_for(lambda: slots.open == 0, 10, "the first stream's slot to be given back")
    # Reconnect after the second line: the rest, each once; the stage it was in is not announced again.
    again = messages(f"{base}/ws/jobs/ws-1/logs?after_id={lines[1]['id']}")
    assert [m["type"] for m in again] == ["stage", "log", "log", "end"]
    assert [m["id"] for m in again if m["type"] == "log"] == [lines[2]["id"], lines[3]["id"]]


def handshake(base: str, job_id: str, authorization: str = "") -> int:
    """The status of a WebSocket handshake the server refuses (an accepted one would be 101)."""
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        **({"Authorization": authorization} if authorization else {}),
    }
    url = base.replace("ws://", "http://") + f"/ws/jobs/{job_id}/logs"
    with requests.get(url, headers=upgrade, timeout=10) as answer:
        return answer.status_code


def test_the_handshake_needs_a_token_and_a_free_slot(served: tuple[Flask, str]) -> None:
    app, base = served
    job_with_lines(app, "ws-2", ["CODE"], "in_progress")  # still running: its stream stays open
    assert handshake(base, "ws-2") == 401
    holder = simple_websocket.Client.connect(f"{base}/ws/jobs/ws-2/logs", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        assert json.loads(holder.receive(timeout=10))["type"] == "stage"
        assert handshake(base, "ws-2", f"Bearer {TOKEN}") == 503  # WEB_MAX_STREAMS=1, and it is taken
    finally:
        holder.close()
        holder.sock.close()
