"""Each write run twice, as a retried activity would, including after a success whose answer was lost.

The real gateway (real `jira` client) talks to the sandbox over HTTP; the sandbox's `lost` fault applies a write
and then answers 503, so the gateway retries an operation that already happened. The sandbox's own state is the
evidence: one comment, one remote link, one transition.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from app.config import SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN
from app.jira_gateway import JiraGateway
from app.jira_gateway.errors import ValidationError
from app.sandbox.faults import Fault
from app.sandbox.server import SandboxServer


def _issue(sandbox: SandboxServer, key: str = "DEMO-1") -> dict[str, Any]:
    with sandbox.store.read() as state:
        issue: dict[str, Any] = state["issues"][key]
        return issue


def _lose_next(sandbox: SandboxServer, method: str, path: str) -> None:
    sandbox.faults.add(Fault("lost", count=1, method=method, path=path))


def test_comment_once_even_when_the_answer_is_lost(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "POST", "/issue/DEMO-1/comment")
    first = gateway.post_comment_once("DEMO-1", "run-1:gate:EXPLORE", "⏸️ Waiting for approval")
    second = gateway.post_comment_once("DEMO-1", "run-1:gate:EXPLORE", "⏸️ Waiting for approval")
    assert first == second
    assert [c["body"] for c in _issue(sandbox)["comments"]] == ["⏸️ Waiting for approval"]
    assert sandbox.faults.planned() == []  # the fault did fire


def test_status_comment_is_one_comment_edited_in_place(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "POST", "/issue/DEMO-1/comment")
    ids = {gateway.upsert_status_comment("DEMO-1", "run-7", f"status v{n}") for n in range(3)}
    comments = _issue(sandbox)["comments"]
    assert len(ids) == 1 and len(comments) == 1 and comments[0]["body"] == "status v2"
    assert _issue(sandbox)["properties"]["orchestrator.status.run-7"]["comment_id"] == comments[0]["id"]


def test_status_comment_lost_between_post_and_property_is_found(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "PUT", "/properties/orchestrator.status")  # the pointer write "fails" after landing
    sandbox.faults.add(Fault("503", count=1, method="PUT", path="/properties/orchestrator.status"))
    gateway.upsert_status_comment("DEMO-1", "run-8", "a")
    gateway.upsert_status_comment("DEMO-1", "run-8", "b")
    assert [c["body"] for c in _issue(sandbox)["comments"]] == ["b"]


def test_status_comment_deleted_by_a_person_comes_back(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    gateway.upsert_status_comment("DEMO-1", "run-9", "a")
    with sandbox.store.change() as state:
        state["issues"]["DEMO-1"]["comments"].clear()
    gateway.upsert_status_comment("DEMO-1", "run-9", "b")
    assert [c["body"] for c in _issue(sandbox)["comments"]] == ["b"]


def test_remote_link_once(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "POST", "/remotelink")
    gateway.upsert_remote_link("DEMO-1", "git:demo#1", "file:///pr/1", "PR 1")
    gateway.upsert_remote_link("DEMO-1", "git:demo#1", "file:///pr/1", "PR 1 (updated)")
    links = _issue(sandbox)["remotelinks"]
    assert len(links) == 1 and links[0]["object"]["title"] == "PR 1 (updated)"


def test_transition_once(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "POST", "/transitions")
    first = gateway.transition_to("DEMO-1", "In Progress")
    second = gateway.transition_to("DEMO-1", "In Progress")
    assert (first.status, first.how, second.how) == ("In Progress", "already", "already")  # the lost answer, retried
    status_changes = [h for h in _issue(sandbox)["history"] if h["items"][-1]["field"] == "status"]
    assert len(status_changes) == 1


def test_transition_without_a_path_labels_once(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    gateway.transition_to("DEMO-2", "Done")
    for _ in range(2):
        outcome = gateway.transition_to("DEMO-2", "Blocked", fallback_label="ai-blocked")
        assert (outcome.how, outcome.label) == ("labelled", "ai-blocked")
    assert _issue(sandbox, "DEMO-2")["labels"] == ["ai-blocked"]
    assert sum(h["items"][0]["field"] == "labels" for h in _issue(sandbox, "DEMO-2")["history"]) == 1


def test_labels_once(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "PUT", "/issue/DEMO-1")
    gateway.add_labels("DEMO-1", ["ai-orchestrate"])
    gateway.add_labels("DEMO-1", ["ai-orchestrate"])
    gateway.remove_labels("DEMO-1", ["ai-orchestrate"])
    gateway.remove_labels("DEMO-1", ["ai-orchestrate"])
    history = _issue(sandbox)["history"]
    assert [(h["items"][0]["fromString"], h["items"][0]["toString"]) for h in history] == [
        ("", "ai-orchestrate"),
        ("ai-orchestrate", ""),
    ]


def test_gateway_reads_everything_back_over_http(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    snap = gateway.read_issue("DEMO-1")
    assert (snap.summary, snap.status, snap.reporter, snap.project_key) == (
        "Add a greeting function", "To Do", "sandbox-reporter", "DEMO"
    )  # fmt: skip
    for n in range(120):  # more than one page of comments
        sandbox.tracker.add_comment("DEMO-3", sandbox.tracker.user_by_name("reporter"), f"c{n}")
    assert [c.body for c in gateway.list_comments("DEMO-3")] == [f"c{n}" for n in range(120)]
    assert gateway.bot_account_id() == "sandbox-bot"
    assert "DEMO-2" in gateway.search_issue_keys('project = DEMO AND status = "To Do"')


def test_approvers_with_the_default_sandbox_settings(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    assert gateway.may_steer("DEMO-1", "sandbox-reviewer", "sandbox-reporter", "approve").allowed
    outsider = gateway.may_steer("DEMO-1", "sandbox-outsider", "sandbox-reporter", "approve")
    assert not outsider.allowed and "orchestrator-approvers" in outsider.who_may_approve
    assert not gateway.may_steer("DEMO-1", "sandbox-reporter", None, "approve").allowed
    assert gateway.may_steer("DEMO-1", "sandbox-bot", None, "approve").is_bot


def test_a_text_is_attached_once_even_when_the_answer_is_lost(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    _lose_next(sandbox, "POST", "/issue/DEMO-1/attachments")
    plan = "# Plan\n" + "1. a step\n" * 5000
    first = gateway.attach_text("DEMO-1", "DEMO-1-PLAN-v1.md", plan)
    again = gateway.attach_text("DEMO-1", "DEMO-1-PLAN-v1.md", plan)
    attached = _issue(sandbox).get("attachments", [])
    assert first == again and len(attached) == 1 and attached[0]["text"] == plan
    assert first.size == len(plan.encode()) and first.content_url.endswith(f"/attachment/content/{first.id}")
    changed = gateway.attach_text("DEMO-1", "DEMO-1-PLAN-v1.md", plan + "2. one more\n")  # new text: a new file
    assert changed.id != first.id and len(_issue(sandbox)["attachments"]) == 2
    content = gateway.http.client._session.get(first.content_url)
    assert content.text == plan
    page = requests.get(f"{sandbox.url}/", timeout=5)
    assert "DEMO-1-PLAN-v1.md" in page.text


def test_an_attachment_is_refused_without_the_xsrf_header_and_a_bad_name_before_any_call(
    sandbox: SandboxServer, gateway: JiraGateway
) -> None:
    url = f"{sandbox.url}/rest/api/2/issue/DEMO-1/attachments"
    bot = (SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN)
    refused = requests.post(url, files={"file": ("a.md", b"x")}, auth=bot, timeout=5)
    assert refused.status_code == 403 and "XSRF" in refused.text  # as Jira: uploads need X-Atlassian-Token
    with pytest.raises(ValidationError):
        gateway.attach_text("DEMO-1", "../etc/passwd", "x")
