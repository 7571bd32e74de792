"""Live job logs over HTTP: JSON pages and Server-Sent Events that resume and end with the job."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.store.job_logs import LogLine, store_lines
from app.store.models import AgentJob
from app.web.factory import create_app
from tests.conftest import make_settings

AUTH = {"Authorization": "Bearer live-token"}


@pytest.fixture
def web(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[FlaskClient, object]]:
    app = create_app(
        make_settings(tmp_path, DATABASE_URL=sqlite_url, ORCHESTRATOR_API_TOKEN="live-token", JIRA_BOT_ACCOUNT_ID="bot")
    )
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
    events = [e for e in sse(first.get_data(as_text=True)) if e["event"] == "log"]
    assert [json.loads(e["data"])["message"] for e in events] == ["line 1", "line 2", "pushed"]
    resumed = client.get(
        "/api/jobs/run-CODE-1/logs/stream?timeout=0", headers={**AUTH, "Last-Event-ID": events[1]["id"]}
    )
    resumed_lines = [e for e in sse(resumed.get_data(as_text=True)) if e["event"] == "log"]
    assert [json.loads(e["data"])["message"] for e in resumed_lines] == ["pushed"]
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


def stage_events(client: FlaskClient, job_id: str, after_id: int = 0) -> list[tuple[str | None, str, int]]:
    """(from, to, line id) of every stage event the stream sends after the cursor."""
    body = client.get(f"/api/jobs/{job_id}/logs/stream?timeout=0&after_id={after_id}", headers=AUTH)
    changes = [json.loads(e["data"]) for e in sse(body.get_data(as_text=True)) if e["event"] == "stage"]
    return [(c["from"], c["to"], c["line_id"]) for c in changes]


def transitions(stages: list[str], before: str = "") -> list[tuple[str | None, str, int]]:
    """The model: (from, to, index) wherever a line's non-empty stage differs from the last non-empty one."""
    found = []
    for index, stage in enumerate(stages):
        if stage and stage != before:
            found.append((before or None, stage, index))
            before = stage
    return found


def test_the_stream_sends_a_stage_event_where_the_stage_changes(web: tuple[FlaskClient, object]) -> None:
    client, factory = web
    now = datetime.now(UTC)
    stages = ["queue", "workspace", "workspace", "CODE", "CODE", "push"]
    store_lines(factory, [LogLine("st-CODE-1", n + 1, "INFO", s, f"line {n}", now) for n, s in enumerate(stages)])
    store_lines(factory, [LogLine("st-CODE-1:createPR", 1, "INFO", "createPR", "pushed", now)])
    events = stage_events(client, "st-CODE-1")
    assert [(f, t) for f, t, _ in events] == [
        (None, "queue"), ("queue", "workspace"), ("workspace", "CODE"), ("CODE", "push"), ("push", "createPR"),
    ]  # fmt: skip
    ids = [line["id"] for line in client.get("/api/jobs/st-CODE-1/logs", headers=AUTH).json["lines"]]
    assert [line_id for _, _, line_id in events] == [ids[0], ids[1], ids[3], ids[5], ids[6]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stages=st.lists(st.sampled_from(["", "workspace", "CODE", "push"]), max_size=12), data=st.data())
def test_stage_events_match_the_lines_whether_or_not_the_stream_resumes(
    web: tuple[FlaskClient, object], stages: list[str], data: st.DataObject
) -> None:
    """Seed property 11: every stage change is announced once, with its old and new stage, across reconnects."""
    client, factory = web
    job_id = f"pr-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    store_lines(factory, [LogLine(job_id, n + 1, "INFO", s, f"line {n}", now) for n, s in enumerate(stages)])
    ids = [line["id"] for line in client.get(f"/api/jobs/{job_id}/logs", headers=AUTH).json["lines"]]
    expected = [(f, t, ids[i]) for f, t, i in transitions(stages)]
    assert stage_events(client, job_id) == expected
    cut = data.draw(st.integers(0, len(stages)), label="lines seen before the reconnect")
    cursor = ids[cut - 1] if cut else 0
    assert stage_events(client, job_id, cursor) == [e for e in expected if e[2] > cursor]
