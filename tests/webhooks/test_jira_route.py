"""POST /webhooks/jira over HTTP: every answer code, and exactly which Temporal calls were made."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from app.store.models import WebhookDelivery
from app.temporal import control
from app.temporal.gateway import TemporalGateway, TemporalUnavailable
from app.web.factory import create_app
from tests.conftest import free_port
from tests.webhooks.conftest import FakeTemporal, Poster, webhook_settings
from tests.webhooks.jira_payloads import (
    BOT,
    MARCO,
    PRIYA,
    SECRET,
    encode,
    fixture_body,
    load_jira_fixture,
    signed_headers,
)
from webhooks.jira import MAX_BODY_BYTES
from workflows.command_answer import AnswerInput
from workflows.messages import (
    ApproveInput,
    CancelInput,
    CommandContext,
    OrchestrationInput,
    PauseInput,
    RejectInput,
    ResumeInput,
    RetryInput,
    Source,
    StatusInput,
)

WORKFLOW = "orchestration-PAY-317"


def start_the_run(post: Poster, fake: FakeTemporal) -> None:
    response = post(load_jira_fixture("issue_updated__label_added_among_others"), "start-delivery")
    assert response.status_code == 202
    fake.calls.clear()


def test_label_added_starts_the_issue_run_with_settings_from_the_environment(
    post: Poster, fake_temporal: FakeTemporal
) -> None:
    response = post(load_jira_fixture("issue_updated__label_added_among_others"), "d-label")
    assert response.status_code == 202
    assert response.json == {
        "outcome": "accepted",
        "action": "start",
        "workflow_id": WORKFLOW,
        "run_id": f"run-of-{WORKFLOW}",
    }
    [start] = fake_temporal.calls
    assert (start.kind, start.workflow_id, start.name) == ("start", WORKFLOW, "run")
    assert start.options == {
        "task_queue": "webhook-tests",
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    }
    input: OrchestrationInput = start.arg
    assert (input.issue_key, input.project_key, input.started_by, input.source) == ("PAY-317", "PAY", PRIYA, "label")
    assert (input.gates, input.auto_proceed, input.gate_timeout_seconds) == (
        ["EXPLORE", "PLAN", "TEST"],
        False,
        int(timedelta(days=7).total_seconds()),
    )
    assert input.delivery_id == "d-label"


@pytest.mark.parametrize(
    ("name", "source"),
    [("issue_created__with_label", Source.CREATED), ("issue_updated__status_to_trigger", Source.TRANSITION)],
)
def test_created_with_label_or_moved_to_trigger_status_starts(
    post: Poster, fake_temporal: FakeTemporal, name: str, source: Source
) -> None:
    assert post(load_jira_fixture(name)).status_code == 202
    [start] = fake_temporal.starts()
    assert start.arg.source == source and start.workflow_id == WORKFLOW


def context(
    delivery: str, comment_id: str | None, actor: str = MARCO, source: Source = Source.COMMENT
) -> CommandContext:
    return CommandContext(actor=actor, delivery_id=delivery, comment_id=comment_id, source=source, trusted=False)


@pytest.mark.parametrize(
    ("name", "signal", "arg"),
    [
        (
            "comment_created__approve_with_notes",
            "approve",
            ApproveInput(context("c", "51877"), "Looks right; keep the retry cap at 5"),
        ),
        ("comment_created__proceed", "approve", ApproveInput(context("c", "51878"))),
        (
            "comment_created__reject_with_feedback",
            "reject",
            RejectInput(context("c", "51879"), "The plan misses the idempotency key.\nAlso cover the 429 path."),
        ),
        ("comment_created__reject_without_feedback", "reject", RejectInput(context("c", "51880"), "")),
        ("comment_created__pause", "pause", PauseInput(context("c", "51881"))),
        ("comment_created__resume", "resume", ResumeInput(context("c", "51882"))),
        ("comment_created__cancel", "cancel", CancelInput(context("c", "51883"), "wrong ticket")),
        ("comment_created__retry_phase", "retry", RetryInput(context("c", "51884"), "PLAN")),
        ("comment_created__retry", "retry", RetryInput(context("c", "51885"), None)),
        ("comment_created__status", "status", StatusInput(context("c", "51886"))),
        ("comment_created__mention_bot_then_command", "approve", ApproveInput(context("c", "51888"), "ship it")),
        (
            "comment_created__adf_approve",
            "approve",
            ApproveInput(context("c", "51893"), "go ahead\nThe plan covers the retry budget."),
        ),
        ("issue_updated__status_to_approve", "approve", ApproveInput(context("c", None, PRIYA, Source.TRANSITION))),
    ],
)
def test_each_command_sends_its_one_typed_signal(
    post: Poster, fake_temporal: FakeTemporal, name: str, signal: str, arg: object
) -> None:
    start_the_run(post, fake_temporal)
    response = post(load_jira_fixture(name), "c")
    assert response.status_code == 202, response.json
    assert response.json["action"] == signal and response.json["workflow_id"] == WORKFLOW
    [call] = fake_temporal.calls
    assert (call.kind, call.workflow_id, call.name, call.arg) == ("signal", WORKFLOW, signal, arg)


@pytest.mark.parametrize(
    "name",
    [
        "issue_updated__label_removed",
        "issue_updated__other_label_added",
        "issue_updated__label_added_by_bot",
        "issue_created__without_label",
        "issue_updated__status_other",
        "issue_updated__status_resolved",
        "issue_updated__unrelated_field",
        "comment_created__command_further_down",
        "comment_created__mention_other_then_command",
        "comment_created__bot_authored_command",
        "comment_created__plain_remark",
        "comment_updated__edited_command",
        "issue_updated__comment_edited_twin",
        "worklog_created__logged",
        "project_created__unknown_event",
    ],
)
def test_ignored_events_answer_200_with_the_reason_and_call_nothing(
    post: Poster, fake_temporal: FakeTemporal, name: str
) -> None:
    start_the_run(post, fake_temporal)
    response = post(load_jira_fixture(name), "ignored-delivery")
    assert response.status_code == 200
    assert response.json["outcome"] == "ignored" and response.json["reason"]
    assert fake_temporal.calls == []


def test_a_command_for_an_issue_without_a_run_is_200_no_run(post: Poster, fake_temporal: FakeTemporal) -> None:
    response = post(load_jira_fixture("comment_created__approve_with_notes"))
    assert response.status_code == 200
    assert response.json == {"outcome": "ignored", "reason": "no run for this issue"}
    # The person who asked is told so on the issue, once for their comment (a short workflow posts it).
    [answer] = fake_temporal.starts()
    assert answer.workflow_id == "command-answer-PAY-317-51877"
    # Such answers go to a person at most once per ORCHESTRATOR_REFUSAL_QUIET on the issue (issue 13 finding 9).
    text = control.no_run_answer("approve")
    assert answer.arg == AnswerInput("PAY-317", "51877", text, "no-run:5f2a7b9c0d1e2f3a4b5c6d7e", 600)
    assert (
        "There is no run on this issue for {{/approve}}" in answer.arg.text and "{{/retry [phase]}}" in answer.arg.text
    )


def test_an_unknown_command_is_answered_with_the_commands(post: Poster, fake_temporal: FakeTemporal) -> None:
    response = post(load_jira_fixture("comment_created__unknown_command"), "d-unknown")
    assert response.status_code == 202
    assert response.json["action"] == "answer"
    [answer] = fake_temporal.starts()
    assert answer.workflow_id == "command-answer-PAY-317-51891"
    assert answer.arg.text.startswith("ℹ️ {{/deploy}} is not a command I know. Commands: {{/approve [notes]}} · ")
    assert answer.options["id_reuse_policy"] == WorkflowIDReusePolicy.REJECT_DUPLICATE
    again = post(load_jira_fixture("comment_created__unknown_command"), "d-unknown")
    assert again.status_code == 200 and len(fake_temporal.starts()) == 1  # a redelivery answers nothing twice


@pytest.mark.parametrize(
    "name",
    [
        "malformed__not_json",
        "malformed__json_array",
        "issue_updated__malformed_missing_issue_key",
        "issue_updated__malformed_wrong_types",
        "comment_created__malformed_wrong_types",
    ],
)
def test_malformed_bodies_are_400_with_a_reason(post: Poster, fake_temporal: FakeTemporal, name: str) -> None:
    response = post(fixture_body(name))
    assert response.status_code == 400
    assert response.json["error"] == "malformed Jira webhook" and response.json["reason"]
    assert fake_temporal.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature": "sha256=" + "0" * 64},
        {"X-Hub-Signature": signed_headers(b"another body")["X-Hub-Signature"]},
        {"X-Hub-Signature": signed_headers(b"{}", secret="wrong")["X-Hub-Signature"]},
        {"X-Hub-Signature": "garbage"},
    ],
)
def test_missing_or_wrong_signature_is_401_and_nothing_happens(
    post: Poster, fake_temporal: FakeTemporal, make_app: Callable[..., Flask], headers: dict[str, str]
) -> None:
    response = post(fixture_body("issue_updated__label_added_among_others"), signed=False, headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": "invalid or missing X-Hub-Signature"}
    assert fake_temporal.calls == []
    assert rows(make_app()) == 0


def test_without_a_secret_unsigned_deliveries_are_accepted_and_a_warning_says_so(
    make_app: Callable[..., Flask], fake_temporal: FakeTemporal, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(JIRA_WEBHOOK_SECRET="").test_client()
    assert "jira.webhook.unsigned" in caplog.text
    response = client.post("/webhooks/jira", data=fixture_body("issue_created__with_label"))
    assert response.status_code == 202
    assert len(fake_temporal.starts()) == 1


def test_over_a_mebibyte_is_413_by_content_length(post: Poster, fake_temporal: FakeTemporal) -> None:
    payload = load_jira_fixture("comment_created__approve_with_notes")
    payload["comment"]["body"] = "/approve " + "x" * MAX_BODY_BYTES
    assert post(payload).status_code == 413
    assert fake_temporal.calls == []


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY_BYTES - 1, 413), (MAX_BODY_BYTES - 2, 400)])
def test_a_chunked_body_is_limited_by_what_arrives(
    make_app: Callable[..., Flask], fake_temporal: FakeTemporal, size: int, status: int
) -> None:
    # Chunked: no Content-Length to check, so the read itself must stop (gunicorn sets wsgi.input_terminated).
    body = b"{" + b" " * size + b"}"
    response = (
        make_app()
        .test_client()
        .post(
            "/webhooks/jira",
            input_stream=io.BytesIO(body),
            headers={**signed_headers(body), "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
    )
    assert response.status_code == status
    assert fake_temporal.calls == []


@pytest.mark.parametrize(
    "failure",
    [
        TemporalUnavailable("cannot reach Temporal"),
        RPCError("too many requests", RPCStatusCode.RESOURCE_EXHAUSTED, b""),
    ],
)
def test_temporal_outage_is_503_and_jiras_retry_is_acted_on(
    post: Poster, fake_temporal: FakeTemporal, failure: BaseException
) -> None:
    fake_temporal.failure = failure
    payload = load_jira_fixture("issue_updated__label_added_among_others")
    response = post(payload, "retried-delivery")
    assert response.status_code == 503 and "retry" in response.json["error"]
    fake_temporal.failure = None
    assert post(payload, "retried-delivery").status_code == 202
    assert len(fake_temporal.starts()) == 1


def test_real_gateway_with_temporal_down_is_503(tmp_path: Path, sqlite_url: str) -> None:
    settings = webhook_settings(tmp_path, sqlite_url, TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    gateway = TemporalGateway(settings.temporal, call_timeout=timedelta(seconds=5))
    app = create_app(settings, temporal=gateway)
    try:
        body = fixture_body("issue_updated__label_added_among_others")
        response = app.test_client().post("/webhooks/jira", data=body, headers=signed_headers(body, "d-down"))
        assert response.status_code == 503
        assert rows(app) == 0  # the claim was released: Jira's retry will act
    finally:
        gateway.close()
        app.extensions["db_engine"].dispose()


def test_temporal_disabled_is_200_disabled_so_jira_does_not_retry(
    make_app: Callable[..., Flask], fake_temporal: FakeTemporal
) -> None:
    client = make_app(FEATURE_TEMPORAL_ENABLED="false").test_client()
    body = fixture_body("issue_created__with_label")
    response = client.post("/webhooks/jira", data=body, headers=signed_headers(body, "d"))
    assert response.status_code == 200
    assert response.json["outcome"] == "disabled" and "FEATURE_TEMPORAL_ENABLED=false" in response.json["reason"]
    assert fake_temporal.calls == []
    unsigned = client.post("/webhooks/jira", data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401  # still authenticated first


def test_database_unavailable_is_503(tmp_path: Path, fake_temporal: FakeTemporal) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    app = create_app(webhook_settings(tmp_path, unmigrated), temporal=fake_temporal)  # type: ignore[arg-type]
    try:
        body = fixture_body("issue_created__with_label")
        response = app.test_client().post("/webhooks/jira", data=body, headers=signed_headers(body, "d"))
        assert response.status_code == 503
        assert fake_temporal.calls == []
    finally:
        app.extensions["db_engine"].dispose()


def test_the_same_delivery_five_times_starts_once(post: Poster, fake_temporal: FakeTemporal) -> None:
    payload = load_jira_fixture("issue_updated__label_added_among_others")
    codes = [post(payload, "same-delivery").status_code for _ in range(5)]
    assert codes == [202, 200, 200, 200, 200]
    assert len(fake_temporal.starts()) == 1


def test_the_same_delivery_without_an_identifier_five_times_starts_once(
    post: Poster, fake_temporal: FakeTemporal
) -> None:
    payload = load_jira_fixture("issue_created__with_label")
    codes = [post(payload, None).status_code for _ in range(5)]
    assert codes == [202, 200, 200, 200, 200]
    assert len(fake_temporal.starts()) == 1


def test_the_same_comment_as_two_events_signals_once(post: Poster, fake_temporal: FakeTemporal) -> None:
    start_the_run(post, fake_temporal)
    first = post(load_jira_fixture("comment_created__approve_with_notes"), "delivery-comment")
    twin = post(load_jira_fixture("issue_updated__comment_twin"), "delivery-twin")
    assert (first.status_code, twin.status_code) == (202, 200)
    assert twin.json["reason"].startswith("already handled")
    [signal] = fake_temporal.signals()
    assert signal.arg.context.delivery_id == "delivery-comment"


def test_the_twin_alone_acts_when_it_comes_first(post: Poster, fake_temporal: FakeTemporal) -> None:
    start_the_run(post, fake_temporal)
    assert post(load_jira_fixture("issue_updated__comment_twin"), "delivery-twin").status_code == 202
    assert post(load_jira_fixture("comment_created__approve_with_notes"), "delivery-comment").status_code == 200
    assert [c.name for c in fake_temporal.signals()] == ["approve"]


def test_info_logs_carry_no_payload_text_and_never_the_secret(
    post: Poster, fake_temporal: FakeTemporal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    start_the_run(post, fake_temporal)
    post(load_jira_fixture("comment_created__reject_with_feedback"), "d-log")
    post(fixture_body("comment_created__malformed_wrong_types"), "d-bad")
    post(load_jira_fixture("comment_created__pause"), "d-unsigned", signed=False)
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "jira.webhook.accepted issue=PAY-317 event=comment_created delivery=d-log action=reject" in text
    assert "jira.webhook.invalid-signature" in text
    for secret_or_payload in (SECRET, "idempotency", "Marco", BOT, MARCO, "Refund webhook"):
        assert secret_or_payload not in text


def rows(app: Flask) -> int:
    with app.extensions["session_factory"]() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def test_accepted_deliveries_are_recorded_with_their_outcome(
    post: Poster, make_app: Callable[..., Flask], fake_temporal: FakeTemporal
) -> None:
    post(load_jira_fixture("issue_updated__label_added_among_others"), "d-rec")
    post(load_jira_fixture("comment_created__pause"), "d-pause")
    with make_app().extensions["session_factory"]() as session:
        stored = {
            r.delivery_id: (r.outcome, r.comment_id, r.issue_key) for r in session.scalars(select(WebhookDelivery))
        }
    assert stored == {"d-rec": ("dispatched", None, "PAY-317"), "d-pause": ("dispatched", "51881", "PAY-317")}


def test_a_captured_body_replayed_under_a_new_identifier_acts_once(post: Poster, fake_temporal: FakeTemporal) -> None:
    payload = load_jira_fixture("issue_updated__label_added_among_others")
    first = post(payload, "delivery-original")
    replayed = post(payload, "delivery-forged-new-id")  # the same signed bytes, a fresh identifier
    assert (first.status_code, replayed.status_code) == (202, 200)
    assert "already handled" in replayed.json["reason"]
    assert len(fake_temporal.starts()) == 1


def test_an_event_older_than_the_window_is_not_acted_on(
    make_app: Callable[..., Flask], fake_temporal: FakeTemporal
) -> None:
    client = make_app(JIRA_WEBHOOK_MAX_AGE="1h").test_client()
    payload = load_jira_fixture("issue_updated__label_added_among_others")
    now = int(time.time() * 1000)  # not the fixtures' session stamp: this test is about minutes
    payload["timestamp"] = now - 61 * 60 * 1000  # captured 61 minutes ago, sent now
    body = encode(payload)
    late = client.post("/webhooks/jira", data=body, headers=signed_headers(body, "late-1"))
    assert late.status_code == 200 and late.json["outcome"] == "ignored"
    assert "more than 1:00:00 ago (JIRA_WEBHOOK_MAX_AGE): a replayed delivery" in late.json["reason"]
    payload["timestamp"] = now - 59 * 60 * 1000  # 59 minutes: a late retry of Jira's own is still acted on
    body = encode(payload)
    assert client.post("/webhooks/jira", data=body, headers=signed_headers(body, "late-2")).status_code == 202
    assert len(fake_temporal.starts()) == 1
    off = make_app(JIRA_WEBHOOK_MAX_AGE="0s").test_client()
    payload["timestamp"] -= 365 * 86400 * 1000
    body = encode(payload)
    assert off.post("/webhooks/jira", data=body, headers=signed_headers(body, "old-3")).status_code == 202
