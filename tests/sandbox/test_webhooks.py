"""The sandbox's webhooks, received on a tiny local HTTP server: Jira Cloud's shapes, headers, signature, retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.jira_gateway import JiraGateway
from app.sandbox.faults import Fault
from app.sandbox.server import SandboxServer
from tests.sandbox import facts_payloads
from tests.sandbox.conftest import SECRET, Delivery, Receiver, sandbox_config
from webhooks.events import JiraEvent
from webhooks.verify import verify_jira_signature


def assert_same_shape(expected: Any, actual: Any, where: str = "body") -> None:
    """Every key of the FACTS example is in the sandbox's body, with a value of the same JSON type."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} is missing"
            assert_same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list"
        if expected and actual:
            assert_same_shape(expected[0], actual[0], f"{where}[0]")
    elif expected is not None:
        assert type(actual) is type(expected), f"{where}: {type(actual).__name__} instead of {type(expected).__name__}"


def _checked(delivery: Delivery) -> JiraEvent:
    verify_jira_signature(delivery.raw, delivery.headers.get("X-Hub-Signature"), SECRET)
    assert delivery.headers["Content-Type"].startswith("application/json")
    assert delivery.headers["X-Atlassian-Webhook-Flow"] == "Primary"
    return JiraEvent.from_payload(delivery.body, delivery.headers["X-Atlassian-Webhook-Identifier"])


def test_label_added_has_the_facts_shape(sandbox: SandboxServer, receiver: Receiver) -> None:
    reporter = sandbox.tracker.user_by_name("reporter")
    sandbox.tracker.edit_labels("DEMO-1", reporter, ["backend"], [])
    sandbox.tracker.edit_labels("DEMO-1", reporter, ["ai-orchestrate"], [])
    second = receiver.wait_for(lambda d: len(d) == 2)[1]
    assert_same_shape(facts_payloads.LABEL_ADDED, second.body)
    item = second.body["changelog"]["items"][0]
    assert (item["fromString"], item["toString"], item["from"], item["to"]) == (
        "backend", "backend ai-orchestrate", None, None
    )  # fmt: skip
    event = _checked(second)
    assert event.actor_account_id == "sandbox-reporter" and event.labels == ("backend", "ai-orchestrate")
    assert second.body["issue_event_type_name"] == "issue_updated"


def test_status_change_has_the_facts_shape(sandbox: SandboxServer, receiver: Receiver) -> None:
    reviewer = sandbox.tracker.user_by_name("reviewer")
    sandbox.tracker.transition("DEMO-1", reviewer, "21")
    (delivery,) = receiver.wait_for(lambda d: len(d) == 1)
    assert_same_shape(facts_payloads.STATUS_CHANGED, delivery.body)
    item = delivery.body["changelog"]["items"][-1]
    assert (item["field"], item["from"], item["to"], item["toString"]) == ("status", "10001", "3", "In Progress")
    assert delivery.body["issue"]["fields"]["status"]["id"] == "3"
    assert delivery.body["issue_event_type_name"] == "issue_generic"
    assert any(c.is_field("status") for c in _checked(delivery).changelog)


def test_comment_created_has_the_facts_shape(sandbox: SandboxServer, gateway: JiraGateway, receiver: Receiver) -> None:
    gateway.post_comment_once("DEMO-1", "e1", "bot says hi")  # the bot's own writes are delivered too
    (delivery,) = receiver.wait_for(lambda d: len(d) == 1)
    assert_same_shape(facts_payloads.COMMENT_CREATED, delivery.body)
    assert set(delivery.body) == set(facts_payloads.COMMENT_CREATED)  # no top-level user, no event type name
    assert "labels" not in delivery.body["issue"]["fields"]
    event = _checked(delivery)
    assert event.comment is not None and event.comment.body == "bot says hi"
    assert event.actor_account_id == "sandbox-bot"


def test_comment_updated_and_issue_created_are_sent(sandbox: SandboxServer, receiver: Receiver) -> None:
    reviewer = sandbox.tracker.user_by_name("reviewer")
    comment = sandbox.tracker.add_comment("DEMO-1", reviewer, "/approve")
    sandbox.tracker.update_comment("DEMO-1", comment["id"], reviewer, "/approve looks good")
    key = sandbox.tracker.create_issue(reviewer, "New thing", "", ["ai-orchestrate"])
    names = [d.body["webhookEvent"] for d in receiver.wait_for(lambda d: len(d) == 3)]
    assert names == ["comment_created", "comment_updated", "jira:issue_created"]
    created = receiver.events("jira:issue_created")[0].body
    assert created["issue"]["key"] == key and created["issue"]["fields"]["labels"] == ["ai-orchestrate"]


def test_a_comment_also_raises_its_issue_commented_twin(tmp_path: Path, receiver: Receiver) -> None:
    """FACTS.md §1.7: a site subscribed to issue and comment events gets the comment twice, with two identifiers."""
    server = SandboxServer(sandbox_config(tmp_path / "s.json", receiver.url, comment_twins=True)).start()
    try:
        server.tracker.add_comment("DEMO-1", server.tracker.user_by_name("reviewer"), "/approve")
        created, twin = (d.body for d in receiver.wait_for(lambda d: len(d) == 2))
    finally:
        server.stop()
    assert (created["webhookEvent"], twin["webhookEvent"]) == ("comment_created", "jira:issue_updated")
    assert twin["issue_event_type_name"] == "issue_commented" and "changelog" not in twin
    assert twin["comment"] == created["comment"] and twin["user"]["accountId"] == "sandbox-reviewer"
    assert len({d.headers["X-Atlassian-Webhook-Identifier"] for d in receiver.deliveries}) == 2


def test_retried_on_5xx_with_the_same_identifier(sandbox: SandboxServer, receiver: Receiver) -> None:
    receiver.statuses = [503, 429]
    sandbox.tracker.add_comment("DEMO-1", sandbox.tracker.user_by_name("reviewer"), "hello")
    first, second, third = receiver.wait_for(lambda d: len(d) == 3)
    assert len({d.headers["X-Atlassian-Webhook-Identifier"] for d in (first, second, third)}) == 1
    assert "X-Atlassian-Webhook-Retry" not in first.headers
    assert [second.headers["X-Atlassian-Webhook-Retry"], third.headers["X-Atlassian-Webhook-Retry"]] == ["1", "2"]
    assert first.raw == third.raw
    _wait_outbox_empty(sandbox)


def test_other_4xx_is_not_retried(sandbox: SandboxServer, receiver: Receiver) -> None:
    receiver.statuses = [404]
    sandbox.tracker.add_comment("DEMO-1", sandbox.tracker.user_by_name("reviewer"), "hello")
    receiver.wait_for(lambda d: len(d) == 1)
    _wait_outbox_empty(sandbox)
    with sandbox.store.read() as state:
        assert state["failed"][-1]["reason"] == "answered 404"
    assert len(receiver.deliveries) == 1


def test_duplicate_and_reorder_faults(sandbox: SandboxServer, receiver: Receiver) -> None:
    reviewer = sandbox.tracker.user_by_name("reviewer")
    sandbox.faults.add(Fault("duplicate", count=1))
    sandbox.tracker.add_comment("DEMO-1", reviewer, "once")
    twins = receiver.wait_for(lambda d: len(d) == 2)
    assert twins[0].headers["X-Atlassian-Webhook-Identifier"] == twins[1].headers["X-Atlassian-Webhook-Identifier"]
    _wait_outbox_empty(sandbox)
    sandbox.faults.add(Fault("reorder", count=2))
    sandbox.tracker.add_comment("DEMO-1", reviewer, "first")
    sandbox.tracker.add_comment("DEMO-1", reviewer, "second")
    later = receiver.wait_for(lambda d: len(d) == 4)[2:]
    assert [d.body["comment"]["body"] for d in later] == ["second", "first"]


def test_retried_after_a_timeout(tmp_path: Path, receiver: Receiver) -> None:
    receiver.delays = [0.6]
    server = SandboxServer(sandbox_config(tmp_path / "s.json", receiver.url, timeout=0.2)).start()
    try:
        server.tracker.add_comment("DEMO-1", server.tracker.user_by_name("reviewer"), "slow")
        first, second = receiver.wait_for(lambda d: len(d) == 2)
        assert second.headers["X-Atlassian-Webhook-Retry"] == "1"
        assert first.headers["X-Atlassian-Webhook-Identifier"] == second.headers["X-Atlassian-Webhook-Identifier"]
    finally:
        server.stop()


def test_unsigned_without_a_secret(tmp_path: Path, receiver: Receiver) -> None:
    server = SandboxServer(sandbox_config(tmp_path / "s.json", receiver.url, secret="")).start()
    try:
        server.tracker.add_comment("DEMO-1", server.tracker.user_by_name("reviewer"), "x")
        (delivery,) = receiver.wait_for(lambda d: len(d) == 1)
        assert "X-Hub-Signature" not in delivery.headers
    finally:
        server.stop()


def test_pending_webhooks_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "s.json"
    first = SandboxServer(sandbox_config(state, "http://127.0.0.1:9/nowhere"))  # not started: nothing is sent
    first.tracker.add_comment("DEMO-1", first.tracker.user_by_name("reviewer"), "kept")
    first.server.server_close()
    second = SandboxServer(sandbox_config(state, receiver.url)).start()
    try:
        (delivery,) = receiver.wait_for(lambda d: len(d) == 1)
        assert delivery.body["comment"]["body"] == "kept"
        with second.store.read() as snapshot:
            assert [c["body"] for c in snapshot["issues"]["DEMO-1"]["comments"]] == ["kept"]
    finally:
        second.stop()


def _wait_outbox_empty(server: SandboxServer, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while server.store.next_due_in(time.time()) is not None:
        if time.monotonic() > deadline:
            pytest.fail("the outbox did not drain")
        time.sleep(0.02)


def test_accepted_deliveries_leave_the_outbox_together(
    sandbox: SandboxServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One state write per accepted delivery kept the sandbox behind with many issues; now they leave in groups.
    removals: list[int] = []
    real = sandbox.store.delivered

    def counted(*ids: str) -> None:
        removals.append(len(ids))
        real(*ids)

    monkeypatch.setattr(sandbox.store, "delivered", counted)
    receiver.delays = [0.1] * 6  # each answer takes a while, as a loaded receiver's does
    reviewer = sandbox.tracker.user_by_name("reviewer")
    for n in range(6):
        sandbox.tracker.add_comment("DEMO-1", reviewer, f"note {n}")
    receiver.wait_for(lambda d: len(d) == 6)
    _wait_outbox_empty(sandbox)
    assert sum(removals) == 6 and len(removals) < 6
    assert len({d.headers["X-Atlassian-Webhook-Identifier"] for d in receiver.deliveries}) == 6  # none sent twice


def test_with_threads_it_delivers_several_at_once_each_once(tmp_path: Path, receiver: Receiver) -> None:
    # SANDBOX_WEBHOOK_THREADS: as Jira Cloud, several deliveries at a time (the benches of many runs use it).
    state = tmp_path / "s.json"
    first = SandboxServer(sandbox_config(state, "http://127.0.0.1:9/nowhere"))  # not started: all 8 wait
    for n in range(8):
        first.tracker.add_comment("DEMO-1", first.tracker.user_by_name("reviewer"), f"note {n}")
    first.server.server_close()
    receiver.delays = [0.3] * 8
    second = SandboxServer(sandbox_config(state, receiver.url, threads=4)).start()
    try:
        receiver.wait_for(lambda d: len(d) == 8)
        _wait_outbox_empty(second)
    finally:
        second.stop()
    assert receiver.most_in_flight >= 2
    assert (
        len({d.headers["X-Atlassian-Webhook-Identifier"] for d in receiver.deliveries}) == 8 == len(receiver.deliveries)
    )
