"""Every gateway operation against faked Jira REST: the requests it sends and what it makes of the answers."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers

from app.config import JiraSettings
from app.jira_gateway import JiraGateway, ValidationError
from app.jira_gateway.client import build_client
from app.jira_gateway.models import QuietAnswer
from tests.jira_gateway.conftest import API, BOT, FakeClock, comment, comments_page, issue_body, make_gateway


def _sent(rsps: responses.RequestsMock, method: str, fragment: str) -> list[dict[str, object]]:
    return [json.loads(c.request.body) for c in rsps.calls if c.request.method == method and fragment in c.request.url]


def test_read_issue_returns_the_snapshot(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body(labels=["backend"]))
    snap = gateway.read_issue("PAY-1")
    assert (snap.key, snap.summary, snap.labels, snap.status, snap.status_id) == (
        "PAY-1", "Refund retries", ("backend",), "To Do", "10001"
    )  # fmt: skip
    assert (snap.reporter, snap.project_key, snap.issue_id) == ("acc-reporter", "PAY", "20431")
    assert "fields=summary" in rsps.calls[0].request.url


def test_list_comments_reads_every_page(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    first = [comment(str(i)) for i in range(100)]
    rsps.get(
        f"{API}/issue/PAY-1/comment",
        match=[
            matchers.query_param_matcher(
                {"startAt": "0", "maxResults": "100", "orderBy": "created", "expand": "properties"}
            )
        ],
        json=comments_page(first, 0, 130),
    )
    rsps.get(
        f"{API}/issue/PAY-1/comment",
        match=[
            matchers.query_param_matcher(
                {"startAt": "100", "maxResults": "100", "orderBy": "created", "expand": "properties"}
            )
        ],
        json=comments_page([comment(str(i)) for i in range(100, 130)], 100, 130),
    )
    found = gateway.list_comments("PAY-1")
    assert [c.id for c in found] == [str(i) for i in range(130)]


def test_post_comment_once_stamps_the_event_key(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([comment("1", event="other")]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "77"}, status=201)
    assert gateway.post_comment_once("PAY-1", "gate:EXPLORE", "⏸️ waiting") == "77"
    (sent,) = _sent(rsps, "POST", "/comment")
    assert sent == {
        "body": "⏸️ waiting",
        "properties": [{"key": "orchestrator.event", "value": {"key": "gate:EXPLORE"}}],
    }


def test_post_comment_once_finds_the_comment_already_posted(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([comment("5", author=BOT, event="gate:EXPLORE")]))
    assert gateway.post_comment_once("PAY-1", "gate:EXPLORE", "⏸️ waiting") == "5"
    assert not _sent(rsps, "POST", "/comment")


def test_post_comment_once_asks_for_the_stamp_when_properties_are_not_expanded(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    # A site that ignores expand=properties: the bot's own comments are checked one by one.
    bare = [{"id": "8", "author": {"accountId": BOT}, "body": "x", "created": ""}]
    bare.append({"id": "9", "author": {"accountId": "acc-human"}, "body": "y", "created": ""})
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page(bare))
    rsps.get(
        f"{API}/comment/8/properties/orchestrator.event", json={"key": "orchestrator.event", "value": {"key": "e1"}}
    )
    assert gateway.post_comment_once("PAY-1", "e1", "body") == "8"
    assert not any("/comment/9/properties" in c.request.url for c in rsps.calls)


def test_status_comment_is_created_then_edited_in_place(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    prop = f"{API}/issue/PAY-1/properties/orchestrator.status.run-1"
    rsps.get(prop, status=404, json={"errorMessages": ["The property with key 'x' does not exist."], "errors": {}})
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "300"}, status=201)
    rsps.put(prop, status=201)
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v1") == "300"
    assert _sent(rsps, "PUT", "properties/orchestrator.status.run-1") == [{"run_key": "run-1", "comment_id": "300"}]
    rsps.replace(responses.GET, prop, json={"key": "orchestrator.status.run-1", "value": {"comment_id": "300"}})
    rsps.get(f"{API}/issue/PAY-1/comment/300", json=comment("300", author=BOT))
    rsps.put(f"{API}/issue/PAY-1/comment/300", json={"id": "300"})
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v2") == "300"
    assert _sent(rsps, "PUT", "/comment/300") == [{"body": "v2"}]
    edits = [c.request.url for c in rsps.calls if c.request.method == "PUT" and "/comment/300" in c.request.url]
    assert "notifyUsers=false" in edits[0]
    assert len(_sent(rsps, "POST", "/comment")) == 1


def test_status_comment_deleted_by_someone_is_posted_again(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    prop = f"{API}/issue/PAY-1/properties/orchestrator.status.run-1"
    rsps.get(prop, json={"key": "orchestrator.status.run-1", "value": {"comment_id": "300"}})
    gone = {"errorMessages": ["Can not find a comment"], "errors": {}}
    rsps.get(f"{API}/issue/PAY-1/comment/300", status=404, json=gone)
    rsps.put(f"{API}/issue/PAY-1/comment/300", status=404, json=gone)
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "301"}, status=201)
    rsps.put(prop, status=200)
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v3") == "301"
    assert _sent(rsps, "PUT", "properties/orchestrator.status") == [{"run_key": "run-1", "comment_id": "301"}]


def test_a_run_that_keeps_the_status_comment_id_writes_no_property(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    # Issue 15: the run holds the id the first write returned; the issue property (a Jira write) is not needed.
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "300"}, status=201)
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v1", known_id="") == "300"
    rsps.get(f"{API}/issue/PAY-1/comment/300", json=comment("300", author=BOT))
    rsps.put(f"{API}/issue/PAY-1/comment/300", json={"id": "300"})
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v2", known_id="300") == "300"
    assert _sent(rsps, "PUT", "/comment/300") == [{"body": "v2"}]
    assert not any("/properties/" in c.request.url for c in rsps.calls)
    assert len(_sent(rsps, "POST", "/comment")) == 1


def test_a_retried_first_status_write_finds_the_comment_it_posted(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    # The first write's answer was lost: the run still has no id, and the event-key stamp finds the comment.
    posted = _stamped("300", "2026-12-07T10:00:00.000+0000", event="status:run-1")
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([posted]))
    rsps.put(f"{API}/issue/PAY-1/comment/300", json={"id": "300"})
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v1", known_id="") == "300"
    assert not _sent(rsps, "POST", "/comment") and not any("/properties/" in c.request.url for c in rsps.calls)


def test_a_known_id_of_someone_elses_comment_is_not_edited(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1/comment/400", json=comment("400", author="acc-mallory"))
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "401"}, status=201)
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v1", known_id="400") == "401"
    assert not any(c.request.method == "PUT" for c in rsps.calls)


def test_transition_looks_up_the_target_status_and_reads_back(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body(status="To Do"))
    rsps.get(f"{API}/issue/PAY-1", json=issue_body(status="In Progress"))
    transitions = [{"id": "11", "name": "Start", "to": {"name": "In Progress"}}, {"id": "51", "to": {"name": "Done"}}]
    rsps.get(f"{API}/issue/PAY-1/transitions", json={"transitions": transitions})
    rsps.post(f"{API}/issue/PAY-1/transitions", status=204)
    outcome = gateway.transition_to("PAY-1", "in progress")
    assert (outcome.status, outcome.how, outcome.message) == ("In Progress", "transitioned", "")
    assert _sent(rsps, "POST", "/transitions") == [{"transition": {"id": "11"}}]


def test_transition_is_skipped_when_already_there(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body(status="In Progress"))
    assert gateway.transition_to("PAY-1", "In Progress").how == "already"
    assert len(rsps.calls) == 1


def test_transition_without_a_path_falls_back_to_a_label(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body())
    rsps.get(f"{API}/issue/PAY-1/transitions", json={"transitions": [{"id": "2", "to": {"name": "Done"}}]})
    rsps.put(f"{API}/issue/PAY-1", status=204)
    outcome = gateway.transition_to("PAY-1", "Blocked", fallback_label="ai-blocked")
    assert (outcome.how, outcome.label, outcome.status) == ("labelled", "ai-blocked", "To Do")
    assert "no transition leads from To Do to Blocked" in outcome.message
    assert _sent(rsps, "PUT", "/issue/PAY-1") == [{"update": {"labels": [{"add": "ai-blocked"}]}}]
    with pytest.raises(ValidationError, match="reachable: Done"):
        gateway.transition_to("PAY-1", "Blocked")


def test_labels_write_only_what_changes(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body(labels=["a", "b"]))
    rsps.put(f"{API}/issue/PAY-1", status=204)
    gateway.add_labels("PAY-1", ["a", "c", "c"])
    gateway.remove_labels("PAY-1", ["b", "zzz"])
    gateway.add_labels("PAY-1", ["a"])  # present already: no PUT
    assert _sent(rsps, "PUT", "/issue/PAY-1") == [
        {"update": {"labels": [{"add": "c"}]}},
        {"update": {"labels": [{"remove": "b"}]}},
    ]


def test_a_label_change_is_one_edit_of_what_changes(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body(labels=["ai-running", "backend"]))
    rsps.put(f"{API}/issue/PAY-1", status=204)
    gateway.change_labels("PAY-1", ["ai-needs-approval"], ["ai-running", "ai-done", "ai-needs-approval"])
    gateway.change_labels("PAY-1", ["backend"], ["ai-done"])  # nothing changes: no PUT
    assert _sent(rsps, "PUT", "/issue/PAY-1") == [
        {"update": {"labels": [{"add": "ai-needs-approval"}, {"remove": "ai-running"}]}},
    ]


def test_remote_link_is_sent_with_its_global_id(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/issue/PAY-1/remotelink", json={"id": 10000, "self": "x"}, status=201)
    assert gateway.upsert_remote_link("PAY-1", "pr:acme/app#4", "https://git/pr/4", "PR #4") == "10000"
    body = {"globalId": "pr:acme/app#4", "object": {"url": "https://git/pr/4", "title": "PR #4"}}
    assert _sent(rsps, "POST", "/remotelink") == [body]
    assert not any("applinks" in c.request.url for c in rsps.calls)


def test_search_follows_next_page_tokens(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{API}/search/jql",
        match=[matchers.query_param_matcher({"jql": "labels = x", "fields": "key", "maxResults": "100"})],
        json={"issues": [{"key": "A-1"}], "nextPageToken": "t2"},
    )
    rsps.get(
        f"{API}/search/jql",
        match=[
            matchers.query_param_matcher(
                {"jql": "labels = x", "fields": "key", "maxResults": "100", "nextPageToken": "t2"}
            )
        ],
        json={"issues": [{"key": "A-2"}], "isLast": True},
    )
    assert gateway.search_issue_keys("labels = x") == ["A-1", "A-2"]


def test_bot_account_id_is_asked_once(jira_settings: object, clock: FakeClock, rsps: responses.RequestsMock) -> None:
    from dataclasses import replace

    gateway = make_gateway(replace(jira_settings, bot_account_id=None), clock)  # type: ignore[type-var]
    rsps.get(f"{API}/myself", json={"accountId": "557058:me"})
    assert gateway.bot_account_id() == gateway.bot_account_id() == "557058:me"
    assert len(rsps.calls) == 1


def test_a_forged_stamp_on_a_users_comment_does_not_suppress_the_bots_comment(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    # Issue 13 finding 10: anyone may set a property on their own comment; only the bot's stamps count.
    forged = comment("5", body="nothing to see", author="acc-mallory", event="gate:EXPLORE")
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([forged]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "77"}, status=201)
    assert gateway.post_comment_once("PAY-1", "gate:EXPLORE", "⏸️ waiting") == "77"
    assert len(_sent(rsps, "POST", "/comment")) == 1
    assert gateway.list_comments("PAY-1")[0].event_key is None


def test_a_status_pointer_to_a_users_comment_is_not_edited(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    # Issue 13 finding 10: the issue property is writable by anyone who may edit the issue; the bot checks the author.
    prop = f"{API}/issue/PAY-1/properties/orchestrator.status.run-1"
    rsps.get(prop, json={"key": "orchestrator.status.run-1", "value": {"comment_id": "400"}})
    rsps.get(f"{API}/issue/PAY-1/comment/400", json=comment("400", author="acc-mallory"))
    mallory = comment("400", author="acc-mallory", event="status:run-1")  # a forged stamp too
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([mallory]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "401"}, status=201)
    rsps.put(prop, status=200)
    assert gateway.upsert_status_comment("PAY-1", "run-1", "v1") == "401"
    assert not any(c.request.method == "PUT" and "/comment/400" in c.request.url for c in rsps.calls)
    assert _sent(rsps, "PUT", "properties/orchestrator.status") == [{"run_key": "run-1", "comment_id": "401"}]


def _stamped(
    cid: str, created: str, author: str = BOT, quiet: str | None = None, event: str = "e"
) -> dict[str, object]:
    value: dict[str, object] = {"key": event} | ({"quiet": quiet} if quiet else {})
    raw = comment(cid, author=author) | {"created": created}
    return raw | {"properties": [{"key": "orchestrator.event", "value": value}]}


QUIET = QuietAnswer("acc-mallory", 600, "900")


def test_a_person_answered_a_moment_before_is_not_answered_again(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    # Issue 13 finding 9: a flood of unknown commands gets one answer per person per quiet window.
    answered = _stamped("800", "2026-01-01T09:00:00.000+0000", quiet="acc-mallory", event="answer-to-799")
    spam = comment("900", author="acc-mallory") | {"created": "2026-01-01T09:05:00.000+0000"}
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([answered, spam]))
    assert gateway.post_comment_once("PAY-1", "answer-to-900", "ℹ️ …", QUIET) == ""
    assert not _sent(rsps, "POST", "/comment")


def test_a_person_is_answered_again_after_the_quiet_window(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    answered = _stamped("800", "2026-01-01T09:00:00.000+0000", quiet="acc-mallory", event="answer-to-799")
    forged = _stamped("850", "2026-01-01T09:14:00.000+0000", author="acc-mallory", quiet="acc-mallory")
    later = comment("900", author="acc-mallory") | {"created": "2026-01-01T09:15:00.000+0000"}
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([answered, forged, later]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "901"}, status=201)
    assert gateway.post_comment_once("PAY-1", "answer-to-900", "ℹ️ …", QUIET) == "901"
    (sent,) = _sent(rsps, "POST", "/comment")
    assert sent["properties"] == [
        {"key": "orchestrator.event", "value": {"key": "answer-to-900", "quiet": "acc-mallory"}}
    ]


def test_the_client_keeps_a_connection_per_calling_thread() -> None:
    # A worker's 32 activity threads call Jira at once: requests' default pool of 10 dropped connections under load.
    session = build_client(JiraSettings(), connections=32)._session
    for url in ("https://site.atlassian.net/rest", "http://127.0.0.1:8090/rest"):
        adapter = session.get_adapter(url)
        assert adapter._pool_maxsize == 32 and adapter.max_retries.total == 0  # type: ignore[attr-defined]
