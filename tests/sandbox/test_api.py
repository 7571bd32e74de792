"""The sandbox's REST subset, page, admin endpoints and CLI, over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import requests

from app.cli import main
from app.config import SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN
from app.jira_gateway import JiraUnavailable
from app.sandbox.faults import Fault
from app.sandbox.server import SandboxServer
from tests.sandbox.conftest import Receiver, gateway_for, sandbox_config

BOT = (SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN)


def _api(server: SandboxServer, path: str) -> str:
    return f"{server.url}/rest/api/2/{path}"


def test_basic_auth_is_checked(sandbox: SandboxServer) -> None:
    for auth in [None, ("reviewer@sandbox.invalid", "wrong")]:
        answer = requests.get(_api(sandbox, "myself"), auth=auth, timeout=5)
        assert answer.status_code == 401
        assert answer.json() == {
            "errorMessages": ["Client must be authenticated to access this resource."],
            "errors": {},
        }
    me = requests.get(_api(sandbox, "myself"), auth=("reviewer@sandbox.invalid", "reviewer-token"), timeout=5)
    assert me.json()["accountId"] == "sandbox-reviewer" and me.headers["X-AAccountId"] == "sandbox-reviewer"


def test_errors_have_jira_shapes(sandbox: SandboxServer) -> None:
    missing = requests.get(_api(sandbox, "issue/NOPE-9"), auth=BOT, timeout=5)
    assert missing.status_code == 404 and missing.json()["errorMessages"]
    bad = requests.put(_api(sandbox, "issue/DEMO-1"), json={"fields": {"summary": "x"}}, auth=BOT, timeout=5)
    assert bad.status_code == 400 and "summary" in bad.json()["errors"]
    junk = requests.post(_api(sandbox, "issue/DEMO-1/comment"), data="not json", auth=BOT, timeout=5)
    assert junk.status_code == 400 and junk.json()["errorMessages"]
    space = requests.put(
        _api(sandbox, "issue/DEMO-1"), json={"update": {"labels": [{"add": "a b"}]}}, auth=BOT, timeout=5
    )
    assert space.status_code == 400 and "labels" in space.json()["errors"]
    paging = requests.get(_api(sandbox, "issue/DEMO-1/comment?startAt=x"), auth=BOT, timeout=5)
    assert paging.status_code == 400


def test_expand_changelog_lists_every_change_oldest_first(sandbox: SandboxServer) -> None:
    labels = {"update": {"labels": [{"add": "ai-orchestrate"}]}}
    assert requests.put(_api(sandbox, "issue/DEMO-1"), json=labels, auth=BOT, timeout=5).status_code == 204
    moves = requests.get(_api(sandbox, "issue/DEMO-1/transitions"), auth=BOT, timeout=5).json()["transitions"]
    to_progress = next(t["id"] for t in moves if t["to"]["name"] == "In Progress")
    move = {"transition": {"id": to_progress}}
    assert requests.post(_api(sandbox, "issue/DEMO-1/transitions"), json=move, auth=BOT, timeout=5).ok
    plain = requests.get(_api(sandbox, "issue/DEMO-1"), auth=BOT, timeout=5).json()
    assert "changelog" not in plain
    log = requests.get(_api(sandbox, "issue/DEMO-1?expand=changelog"), auth=BOT, timeout=5).json()["changelog"]
    changes = [(i["field"], i["fromString"], i["toString"]) for h in log["histories"] for i in h["items"]]
    assert changes == [("labels", "", "ai-orchestrate"), ("status", "To Do", "In Progress")]
    assert log["total"] == 2 and all(
        h["author"]["accountId"] == "sandbox-bot" and h["created"] for h in log["histories"]
    )


def test_outsider_may_not_transition(sandbox: SandboxServer) -> None:
    auth = ("outsider@sandbox.invalid", "outsider-token")
    assert requests.get(_api(sandbox, "issue/DEMO-1/transitions"), auth=auth, timeout=5).json()["transitions"] == []
    answer = requests.post(
        _api(sandbox, "issue/DEMO-1/transitions"), json={"transition": {"id": "21"}}, auth=auth, timeout=5
    )
    assert answer.status_code == 400


def test_rate_limit_fault_through_the_admin_endpoint(sandbox: SandboxServer) -> None:
    plan = requests.post(f"{sandbox.url}/sandbox/faults", json={"kind": "429", "count": 2, "retry_after": 3}, timeout=5)
    assert plan.status_code == 200 and plan.json()["planned"][0]["count"] == 2
    slept: list[float] = []
    gateway = gateway_for(sandbox)
    gateway.retry = type(gateway.retry)(budget=30, sleep=slept.append)
    assert gateway.read_issue("DEMO-1").key == "DEMO-1"
    assert len(slept) == 2 and all(s >= 3 for s in slept)
    refused = requests.post(f"{sandbox.url}/sandbox/faults", json={"kind": "explode"}, timeout=5)
    assert refused.status_code == 400 and "unknown fault kind" in refused.json()["errorMessages"][0]


def test_delay_fault_meets_the_client_timeout(sandbox: SandboxServer) -> None:
    sandbox.faults.add(Fault("delay", count=None, delay=0.5))
    gateway = gateway_for(sandbox, timeout=timedelta(seconds=0.2))
    gateway.retry = type(gateway.retry)(budget=0.5)
    with pytest.raises(JiraUnavailable, match="did not answer in time"):
        gateway.read_issue("DEMO-1")
    sandbox.faults.clear()


def test_state_survives_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "s.json"
    first = SandboxServer(sandbox_config(state, receiver.url)).start()
    gateway_for(first).post_comment_once("DEMO-2", "k", "remember me")
    first.stop()
    second = SandboxServer(sandbox_config(state, receiver.url)).start()
    try:
        assert [c.body for c in gateway_for(second).list_comments("DEMO-2")] == ["remember me"]
    finally:
        second.stop()


def test_the_page_lists_issues_and_acts_as_a_person(sandbox: SandboxServer) -> None:
    page = requests.get(f"{sandbox.url}/", timeout=5)
    assert page.status_code == 200 and "DEMO-1: Add a greeting function" in page.text
    form = {"issue": "DEMO-1", "text": "<b>/approve</b>", "as": "reviewer"}
    acted = requests.post(f"{sandbox.url}/sandbox/act/comment", data=form, timeout=5)
    assert acted.status_code == 200 and "&lt;b&gt;/approve&lt;/b&gt;" in acted.text  # escaped, not rendered
    moved = requests.post(
        f"{sandbox.url}/sandbox/act/transition", data={"issue": "DEMO-1", "status": "Done", "as": "outsider"}, timeout=5
    )
    assert "outsider cannot move DEMO-1" in moved.text


def test_cli_acts_and_shows(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("JIRA_BASE_URL", raising=False)
    monkeypatch.setenv("SANDBOX_JIRA_PORT", str(sandbox.config.port))

    def run(*argv: str) -> int:
        with pytest.raises(SystemExit) as code:
            main(["sandbox", *argv])
        return int(code.value.code or 0)

    assert run("comment", "DEMO-1", "hello", "--as", "reviewer") == 0
    assert run("label", "DEMO-1", "ai-orchestrate", "--as", "reporter") == 0
    assert run("transition", "DEMO-1", "In Review", "--as", "reviewer") == 0
    assert run("transition", "DEMO-1", "Done", "--as", "outsider") == 1
    assert run("comment", "DEMO-1", "x", "--as", "nobody") == 1
    capsys.readouterr()
    assert run("show", "DEMO-1") == 0
    shown = capsys.readouterr().out
    assert "status: In Review" in shown and "labels: ai-orchestrate" in shown and "Rita Reviewer" in shown
    assert "hello" in shown
    monkeypatch.setenv("SANDBOX_JIRA_PORT", "9")
    assert run("show", "DEMO-1") == 1
    assert "is not running" in capsys.readouterr().out
