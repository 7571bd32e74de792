"""Live job logs over HTTP: JSON pages and Server-Sent Events that resume and end with the job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.job_logs import LogLine, store_lines
from app.models import AgentJob
from app.web import create_app
from tests.conftest import make_settings

AUTH = {"Authorization": "Bearer live-token"}


@pytest.fixture
def web(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[FlaskClient, object]]:
    app = create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, ORCHESTRATOR_API_TOKEN="live-token"))
    factory = app.extensions["session_factory"]
    now = datetime.now(UTC)
    store_lines(factory, [LogLine("run-CODE-1", seq, "INFO", "CODE", f"line {seq}", now) for seq in (1, 2)])
    store_lines(factory, [LogLine("run-CODE-1:createPR", 1, "INFO", "createPR", "pushed", now)])
    store_lines(factory, [LogLine("run-CODE-10", 1, "INFO", "CODE", "another job", now)])
    yield app.test_client(), factory
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


def sse(body: str) -> list[dict[str, str]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "data" in fields:
            events.append(fields)
    return events


def test_logs_need_the_api_token(web: tuple[FlaskClient, object]) -> None:
    client, _ = web
    assert client.get("/api/jobs/run-CODE-1/logs").status_code == 401
    assert client.get("/api/jobs/run-CODE-1/logs/stream").status_code == 401


def test_json_pages_hold_the_job_and_its_sub_jobs(web: tuple[FlaskClient, object]) -> None:
    client, _ = web
    page = client.get("/api/jobs/run-CODE-1/logs?limit=2", headers=AUTH).json
    assert [line["message"] for line in page["lines"]] == ["line 1", "line 2"]
    rest = client.get(f"/api/jobs/run-CODE-1/logs?after_id={page['next_after_id']}", headers=AUTH).json
    assert [(line["job_id"], line["message"]) for line in rest["lines"]] == [("run-CODE-1:createPR", "pushed")]
    assert client.get("/api/jobs/bad%20id/logs", headers=AUTH).status_code == 400
    assert client.get("/api/jobs/run-CODE-1/logs?after_id=x", headers=AUTH).status_code == 400


def test_stream_sends_lines_resumes_and_ends_with_the_job(web: tuple[FlaskClient, object]) -> None:
    client, factory = web
    first = client.get("/api/jobs/run-CODE-1/logs/stream?timeout=0", headers=AUTH)
    assert first.mimetype == "text/event-stream"
    events = sse(first.get_data(as_text=True))
    assert [json.loads(e["data"])["message"] for e in events] == ["line 1", "line 2", "pushed"]
    resumed = client.get(
        "/api/jobs/run-CODE-1/logs/stream?timeout=0", headers={**AUTH, "Last-Event-ID": events[1]["id"]}
    )
    assert [json.loads(e["data"])["message"] for e in sse(resumed.get_data(as_text=True))] == ["pushed"]
    with factory.begin() as session:  # type: ignore[attr-defined]
        session.add(
            AgentJob(
                id="run-CODE-1",
                orchestration_run_id="run",
                issue_key="DEMO-1",
                project_key="DEMO",
                phase="CODE",
                command="CODE",
                status="completed",
            )
        )
    ended = sse(client.get("/api/jobs/run-CODE-1/logs/stream", headers=AUTH).get_data(as_text=True))
    assert ended[-1]["event"] == "end" and json.loads(ended[-1]["data"]) == {
        "job_id": "run-CODE-1",
        "status": "completed",
    }
