"""The HTTP API and dashboard against a real dev server and worker (fake Jira and agent behind the activities)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flask.testing import FlaskClient

from app.web.factory import create_app
from tests.app.conftest import AUTH, TOKEN, call, wait_for_gate
from tests.app.web_login import add_user, log_in
from tests.conftest import free_port, make_settings
from tests.workflows.fakes import APPROVER


async def test_token_is_required(api: FlaskClient) -> None:
    assert (await call(api, "get", "/api/orchestrations/API-1")).status_code == 401
    wrong = await call(api, "get", "/api/orchestrations/API-1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_start_read_steer_and_dashboard(api: FlaskClient) -> None:
    first = await call(api, "post", "/api/orchestrations", json={"issue_key": "api-7"}, headers=AUTH)
    assert first.status_code == 201, first.json
    assert first.json["workflow_id"] == "orchestration-API-7"
    again = await call(api, "post", "/api/orchestrations", json={"issue_key": "API-7"}, headers=AUTH)
    assert again.status_code == 200
    assert again.json["created"] is False
    assert again.json["run_id"] == first.json["run_id"]

    state = await wait_for_gate(api, "API-7")
    assert state["status"] == "waiting_for_approval"
    assert state["pending_gate"] == "EXPLORE"
    assert state["phases"][0]["outcome"] == "succeeded"
    assert [(v["version"], v["text"]) for v in state["versions"]["EXPLORE"]] == [(1, "EXPLORE output for API-7")]
    assert state["results"]["EXPLORE"]["explore"]["complexity"] == "medium"  # typed (the shared fixture)
    assert state["figures"] == {"EXPLORE": "3 affected files, complexity medium"}

    approved = await call(api, "post", "/api/orchestrations/API-7/approve", json={"notes": "go"}, headers=AUTH)
    assert approved.status_code == 200
    assert approved.json["accepted"] is True
    refused = await call(api, "post", "/api/orchestrations/API-7/approve", json={}, headers=AUTH)
    assert refused.status_code == 409
    assert "nothing to approve" in refused.json["message"]

    assert (await call(api, "get", "/orchestrations/API-7")).status_code == 302  # the dashboard needs a login
    await asyncio.to_thread(log_in, api, add_user(api.application, "rita", APPROVER))
    page = await call(api, "get", "/orchestrations/API-7")
    assert page.status_code == 200
    assert b"EXPLORE" in page.data
    assert b"Agent jobs" in page.data
    assert b"3 affected files, complexity medium" in page.data
    assert b"EXPLORE: 1 version" in page.data and b"<pre>EXPLORE output for API-7</pre>" in page.data
    assert (await call(api, "get", "/")).status_code == 200


async def test_unknown_issue_and_bad_input(api: FlaskClient) -> None:
    missing = await call(api, "get", "/api/orchestrations/NONE-404", headers=AUTH)
    assert missing.status_code == 404
    assert (await call(api, "post", "/api/orchestrations", json={"issue_key": "x y"}, headers=AUTH)).status_code == 400
    assert (await call(api, "post", "/api/orchestrations", json=[1], headers=AUTH)).status_code == 400
    assert (await call(api, "post", "/api/orchestrations/NONE-404/approve", headers=AUTH)).status_code == 404
    assert (await call(api, "post", "/api/orchestrations/NONE-404/explode", headers=AUTH)).status_code == 404


def test_temporal_down_is_503(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, DATABASE_URL=sqlite_url, TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}", ORCHESTRATOR_API_TOKEN=TOKEN
    )
    app = create_app(settings)
    response = app.test_client().get("/api/orchestrations/API-1", headers=AUTH)
    assert response.status_code == 503
    assert "connection refused" in response.json["error"]
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()
