"""JiraActivities over the real gateway: dataclasses in and out, errors typed for Temporal's retry policy."""

from __future__ import annotations

import time

import pytest
import responses
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.jira as jira_activities
from activities.jira import (
    ApproverQuery,
    AttachmentInput,
    CommentOnce,
    JiraActivities,
    LabelChange,
    ReadIssueInput,
    RemoteLinkInput,
    StatusCommentInput,
    TransitionInput,
)
from app.jira_gateway import Attachment, JiraGateway
from tests.jira_gateway.conftest import (
    API,
    BOT,
    PLAN_NAME,
    PLAN_TEXT,
    TOKEN,
    attachment_json,
    attachments_body,
    comment,
    comments_page,
    issue_body,
)

ISSUE = f"{API}/issue/PAY-1"


@pytest.mark.parametrize(
    ("status", "type_name", "non_retryable"),
    [
        (401, "AuthenticationError", True),
        (403, "AuthenticationError", True),
        (400, "ValidationError", True),
        (404, "JiraNotFound", True),
        (503, "JiraUnavailable", False),
    ],
)
def test_errors_become_typed_application_errors(
    gateway: JiraGateway, rsps: responses.RequestsMock, status: int, type_name: str, non_retryable: bool
) -> None:
    rsps.get(ISSUE, status=status, json={"errorMessages": ["no"], "errors": {}})
    with pytest.raises(ApplicationError) as caught:
        JiraActivities(gateway).read_issue(ReadIssueInput("PAY-1"))
    assert caught.value.type == type_name and caught.value.non_retryable is non_retryable
    assert TOKEN not in str(caught.value)


def test_each_activity_maps_to_its_gateway_call(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    acts = JiraActivities(gateway)
    rsps.get(ISSUE, json=issue_body(labels=["x"]))
    rsps.put(ISSUE, status=204)
    rsps.get(f"{ISSUE}/properties/orchestrator.status.r1", json={"key": "k", "value": {"comment_id": "4"}})
    rsps.get(f"{ISSUE}/comment/4", json=comment("4", author=BOT))
    rsps.put(f"{ISSUE}/comment/4", json={"id": "4"})
    rsps.get(f"{ISSUE}/comment", json=comments_page([]))
    rsps.post(f"{ISSUE}/comment", json={"id": "5"}, status=201)
    rsps.post(f"{ISSUE}/remotelink", json={"id": 7}, status=201)
    rsps.get(f"{API}/user/groups", json=[{"name": "approvers"}])

    assert acts.read_issue(ReadIssueInput("PAY-1")).labels == ("x",)  # the gateway's snapshot, as it is
    assert acts.upsert_status_comment(StatusCommentInput("PAY-1", "r1", "s")) == "4"
    assert acts.post_comment_once(CommentOnce("PAY-1", "e1", "b")) == "5"
    assert acts.transition_issue(TransitionInput("PAY-1", "To Do")).how == "already"
    acts.change_labels(LabelChange("PAY-1", ["z"], ["x"]))
    acts.upsert_remote_link(RemoteLinkInput("PAY-1", "g", "http://u", "t"))
    assert any(c.request.url.endswith("/remotelink") for c in rsps.calls)
    refused = acts.check_approver(ApproverQuery("PAY-1", "acc-x", None, "approve"))
    assert not refused.allowed and "Nobody" in refused.who_may_approve
    assert acts.check_approver(ApproverQuery("PAY-1", BOT, None, "approve")).is_bot


def test_a_slow_jira_call_heartbeats_so_a_dead_worker_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jira_activities, "HEARTBEAT_EVERY", 0.02)

    class SlowGateway:
        def post_comment_once(self, issue_key: str, event_key: str, body: str, quiet: object = None) -> str:
            time.sleep(0.3)  # a Jira answer that takes a while (or the gateway waiting out a Retry-After)
            return "7"

    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    acts = JiraActivities(SlowGateway())  # type: ignore[arg-type]
    assert env.run(acts.post_comment_once, CommentOnce("PAY-1", "e1", "b")) == "7"
    assert len(beats) >= 3
    settled = len(beats)
    time.sleep(0.1)
    assert len(beats) == settled  # and none once the call is over


def test_attach_text_returns_the_attachment(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(ISSUE, json=attachments_body())
    rsps.post(f"{ISSUE}/attachments", json=[attachment_json()])
    attached = ActivityEnvironment().run(
        JiraActivities(gateway).attach_text, AttachmentInput("PAY-1", PLAN_NAME, PLAN_TEXT)
    )
    assert attached == Attachment("10100", PLAN_NAME, len(PLAN_TEXT.encode()), f"{API}/attachment/content/10100", BOT)


def test_an_attachment_too_large_for_jira_is_not_retried(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(ISSUE, json=attachments_body())
    rsps.post(f"{ISSUE}/attachments", status=413, json={"errorMessages": ["too large"], "errors": {}})
    with pytest.raises(ApplicationError) as caught:
        ActivityEnvironment().run(JiraActivities(gateway).attach_text, AttachmentInput("PAY-1", PLAN_NAME, PLAN_TEXT))
    assert caught.value.type == "ValidationError" and caught.value.non_retryable
