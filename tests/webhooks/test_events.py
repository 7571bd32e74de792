"""`JiraEvent.from_payload` and `read_jira_delivery`: fixture → typed event, and malformed → a reason."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.webhooks.jira_payloads import BOT, MARCO, PRIYA, SESSION_STAMP, encode, fixture_body, load_jira_fixture
from webhooks.adf import UnreadableADF, adf_to_text
from webhooks.events import (
    FieldChange,
    JiraComment,
    JiraEvent,
    MalformedEvent,
    OtherEvent,
    read_jira_delivery,
)
from webhooks.intents import JIRA_INTENT_PARSERS


def read(name: str, delivery_id: str | None = "d-1") -> JiraEvent | OtherEvent:
    return read_jira_delivery(fixture_body(name), delivery_id, JIRA_INTENT_PARSERS)


def test_label_change_reads_full_label_sets_and_the_user() -> None:
    event = read("issue_updated__label_added_among_others")
    body = fixture_body("issue_updated__label_added_among_others")
    assert event == JiraEvent(
        webhook_event="jira:issue_updated",
        delivery_id="d-1",
        issue_key="PAY-317",
        timestamp=SESSION_STAMP,
        actor_account_id=PRIYA,
        issue_event_type_name="issue_updated",
        changelog=(FieldChange("labels", "labels", "backend", "ai-orchestrate backend needs-review"),),
        labels=("ai-orchestrate", "backend", "needs-review"),
        comment=None,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def test_comment_event_actor_is_the_comment_author_and_labels_are_absent() -> None:
    event = read("comment_created__approve_with_notes")
    assert isinstance(event, JiraEvent)
    assert event.actor_account_id == MARCO
    assert event.comment == JiraComment("51877", MARCO, "/approve Looks right; keep the retry cap at 5")
    assert event.labels == () and event.changelog == ()
    assert event.issue_event_type_name is None


def test_issue_updated_twin_of_a_comment_carries_the_comment() -> None:
    event = read("issue_updated__comment_twin")
    assert isinstance(event, JiraEvent)
    assert event.issue_event_type_name == "issue_commented"
    assert event.comment is not None and event.comment.id == "51877"


def test_transition_with_two_items_keeps_both() -> None:
    event = read("issue_updated__status_resolved")
    assert isinstance(event, JiraEvent)
    assert [c.field for c in event.changelog] == ["resolution", "status"]
    assert event.changelog[0].from_string is None


def test_adf_comment_body_is_flattened_with_mentions() -> None:
    event = read("comment_created__adf_approve")
    assert isinstance(event, JiraEvent) and event.comment is not None
    assert event.comment.body.splitlines() == [
        f"[~accountid:{BOT}] /approve go ahead",
        "The plan covers the retry budget.",
    ]


def test_adf_nested_deeper_than_any_person_writes_is_malformed() -> None:
    node: dict[str, Any] = {"type": "text", "text": "x"}
    for _ in range(200):
        node = {"type": "paragraph", "content": [node]}
    with pytest.raises(UnreadableADF):
        adf_to_text(node)


@pytest.mark.parametrize("name", ["worklog_created__logged", "project_created__unknown_event"])
def test_events_we_do_not_read_need_no_issue(name: str) -> None:
    assert read(name) == OtherEvent(load_jira_fixture(name)["webhookEvent"])


def test_without_a_delivery_header_the_id_is_derived_and_stable() -> None:
    first = read("comment_created__pause", None)
    again = read("comment_created__pause", None)
    other = read("comment_created__resume", None)
    assert isinstance(first, JiraEvent) and isinstance(again, JiraEvent) and isinstance(other, JiraEvent)
    assert first.delivery_id.startswith("derived-") and first.delivery_id == again.delivery_id
    assert other.delivery_id != first.delivery_id


def test_comment_id_given_as_a_number_is_read_as_text() -> None:
    payload = load_jira_fixture("comment_created__status")
    payload["comment"]["id"] = 51886
    event = read_jira_delivery(encode(payload), "d-1", JIRA_INTENT_PARSERS)
    assert isinstance(event, JiraEvent) and event.comment is not None and event.comment.id == "51886"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("malformed__not_json", "body: not JSON"),
        ("malformed__json_array", "body: expected a JSON object, got a list"),
        ("issue_updated__malformed_missing_issue_key", "issue.key: expected a string, got nothing"),
        ("issue_updated__malformed_wrong_types", "timestamp: expected epoch milliseconds"),
        ("comment_created__malformed_wrong_types", "comment.id: expected an id string"),
    ],
)
def test_malformed_fixtures_give_a_reason(name: str, reason: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        read(name)
    assert str(caught.value).startswith(reason)


def _mutate(path: tuple[str | int, ...], value: Any) -> Any:
    payload = load_jira_fixture("issue_updated__label_added_among_others")
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("webhookEvent",), 7, "webhookEvent: expected a string, got a number"),
        (("webhookEvent",), "", "webhookEvent: expected a name"),
        (("issue",), "PAY-317", "issue: expected an object, got a string"),
        (("issue", "key"), "not a key", "issue.key: expected an issue key"),
        (("issue", "fields", "labels"), "ai-orchestrate", "issue.fields.labels: expected a list of strings"),
        (("user",), None, "user: missing"),
        (("user", "accountId"), "has spaces in it", "user.accountId: expected an Atlassian account id"),
        (("timestamp",), True, "timestamp: expected epoch milliseconds"),
        (("changelog",), [], "changelog: expected an object, got a list"),
        (("changelog", "items", 0), "labels", "changelog.items[0]: expected an object, got a string"),
        (("changelog", "items", 0, "field"), None, "changelog.items[0].field: expected a string, got nothing"),
        (("changelog", "items", 0, "toString"), ["a"], "changelog.items[0].toString: expected a string or null"),
    ],
)
def test_each_field_is_checked_as_it_is_read(path: tuple[str | int, ...], value: Any, reason: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        read_jira_delivery(encode(_mutate(path, value)), "d-1", JIRA_INTENT_PARSERS)
    assert str(caught.value).startswith(reason)


def test_reasons_never_echo_payload_text() -> None:
    payload = _mutate(("issue", "key"), "SECRET-TEXT that is not a key")
    with pytest.raises(MalformedEvent) as caught:
        read_jira_delivery(encode(payload), "d-1", JIRA_INTENT_PARSERS)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("header", ["has space", "x" * 129, "tab\tinside"])
def test_a_delivery_header_that_is_no_identifier_is_malformed(header: str) -> None:
    with pytest.raises(MalformedEvent, match="X-Atlassian-Webhook-Identifier"):
        read_jira_delivery(fixture_body("comment_created__pause"), header, JIRA_INTENT_PARSERS)


def test_huge_numbers_and_deep_nesting_are_malformed_not_crashes() -> None:
    with pytest.raises(MalformedEvent, match="not JSON"):
        read_jira_delivery(b'{"timestamp": ' + b"9" * 5000 + b"}", None, JIRA_INTENT_PARSERS)
    with pytest.raises(MalformedEvent, match=r"nested too deeply|not JSON"):
        read_jira_delivery(b"[" * 100_000 + b"]" * 100_000, None, JIRA_INTENT_PARSERS)
