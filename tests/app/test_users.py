"""Named users with personal tokens (issue 13 finding 6, issue 14 "Who you are").

The API's actor is the token's user, never the body's `actor`; a user's approval is checked by the run as their
Jira comment would be; a revoked token gets 401; tokens are stored only as digests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app.services.users import UserError, UserService, token_digest
from app.store.db import make_engine, make_session_factory
from tests.app.conftest import TOKEN, call, wait_for_gate
from tests.app.test_cli import run
from tests.app.web_login import add_user, log_in
from tests.workflows.fakes import APPROVER, OUTSIDER

SERVICE = TOKEN  # the api fixture's ORCHESTRATOR_API_TOKEN


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_holder_claiming_another_actor_is_recorded_as_themselves(api: FlaskClient) -> None:
    rita = add_user(api.application, "rita", APPROVER)
    started = await call(
        api, "post", "/api/orchestrations", json={"issue_key": "USR-1", "started_by": "ceo"}, headers=bearer(rita)
    )
    assert started.status_code == 201
    assert started.json["started_by"] == "rita" and started.json["claimed_actor"] == "ceo"
    await wait_for_gate(api, "USR-1", bearer(SERVICE))
    approved = await call(
        api, "post", "/api/orchestrations/USR-1/approve", json={"actor": "someone-else"}, headers=bearer(rita)
    )
    assert approved.status_code == 200, approved.json
    assert approved.json["actor"] == "rita" and approved.json["claimed_actor"] == "someone-else"
    state = (await call(api, "get", "/api/orchestrations/USR-1", headers=bearer(rita))).json
    assert state["started_by"] == APPROVER
    explore = next(p for p in state["phases"] if p["phase"] == "EXPLORE")
    assert explore["approved_by"] == APPROVER and explore["approved_via"] == "api"


async def test_an_api_approval_goes_through_the_commenters_permission_rule(api: FlaskClient) -> None:
    otto = add_user(api.application, "otto", OUTSIDER)
    await call(api, "post", "/api/orchestrations", json={"issue_key": "USR-2"}, headers=bearer(SERVICE))
    await wait_for_gate(api, "USR-2", bearer(SERVICE))
    refused = await call(
        api, "post", "/api/orchestrations/USR-2/approve", json={"actor": APPROVER}, headers=bearer(otto)
    )
    assert refused.status_code == 409
    assert "you may not steer this run" in refused.json["message"] and OUTSIDER in refused.json["message"]
    assert (await wait_for_gate(api, "USR-2", bearer(SERVICE)))["pending_gate"] == "EXPLORE"  # still waiting
    # The service token stays the trusted operator "api", as the CLI is.
    approved = await call(api, "post", "/api/orchestrations/USR-2/approve", json={}, headers=bearer(SERVICE))
    assert approved.status_code == 200 and approved.json["actor"] == "api"


async def test_a_revoked_token_gets_401_and_a_session_cannot_post(api: FlaskClient) -> None:
    rita = add_user(api.application, "rita", APPROVER)
    await asyncio.to_thread(log_in, api, rita)
    # A console session may read the API (the browser's live views) but not change anything (no CSRF there).
    assert (await call(api, "get", "/api/orchestrations/NONE-1")).status_code == 404
    assert (await call(api, "post", "/api/orchestrations", json={"issue_key": "USR-3"})).status_code == 401
    assert (await call(api, "get", "/api/orchestrations/NONE-1", headers=bearer(rita))).status_code == 404
    UserService(api.application.extensions["session_factory"]).revoke("rita")
    revoked = await call(api, "get", "/api/orchestrations/NONE-1", headers=bearer(rita))
    assert revoked.status_code == 401
    assert (await call(api, "get", "/api/orchestrations/NONE-1")).status_code == 401  # the session ended too


def test_tokens_are_never_stored_raw(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    service = UserService(make_session_factory(engine))
    user, token = service.add("rita", APPROVER)
    assert token.startswith("jo_") and len(token) > 40
    with engine.connect() as conn:
        rows = [tuple(map(str, row)) for row in conn.execute(text("SELECT * FROM users"))]
    assert len(rows) == 1 and token_digest(token) in rows[0]
    assert not any(token in value for value in rows[0])
    engine.dispose()
    assert token.encode() not in Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()
    assert service.by_token(token) == user
    assert service.by_token(token + "x") is None


def test_add_refuses_a_second_live_token_and_revoke_then_add_issues_a_new_one(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    service = UserService(make_session_factory(engine))
    _, first = service.add("rita", APPROVER)
    with pytest.raises(UserError, match="already has a token"):
        service.add("rita", APPROVER)
    with pytest.raises(UserError, match="not a Jira account id"):
        service.add("bob", "not an id")
    service.revoke("rita")
    assert service.by_token(first) is None
    _, second = service.add("rita", APPROVER)
    assert service.by_token(second) is not None and service.by_token(first) is None
    with pytest.raises(UserError, match="no user named"):
        service.revoke("nobody")
    engine.dispose()


def test_users_commands_add_list_revoke(tmp_path: Path, sqlite_url: str) -> None:
    added = run(tmp_path, "users", "add", "--account-id", APPROVER, "--name", "rita", DATABASE_URL=sqlite_url)
    assert added.returncode == 0, added.stderr
    token = next(line.strip() for line in added.stdout.splitlines() if line.strip().startswith("jo_"))
    listed = run(tmp_path, "users", "list", DATABASE_URL=sqlite_url)
    assert "rita  account acc-reviewer" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout
    again = run(tmp_path, "users", "add", "--account-id", APPROVER, "--name", "rita", DATABASE_URL=sqlite_url)
    assert again.returncode == 1 and "already has a token" in again.stdout
    revoked = run(tmp_path, "users", "revoke", "rita", DATABASE_URL=sqlite_url)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert "revoked" in run(tmp_path, "users", "list", DATABASE_URL=sqlite_url).stdout
