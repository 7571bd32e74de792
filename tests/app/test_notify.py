"""Chat notifications: posted once per key against a real local HTTP listener, retried or refused by its answer,
and the webhook's URL (its credential) never in an error, a log line or a row."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import Notification, NotifyActivities
from app.config import NotifySettings
from app.services.checks import check_notify
from app.store.db import make_engine, make_session_factory
from app.store.models import NotificationDelivery
from app.worker.registry import activity_functions
from tests.conftest import free_port, make_settings
from tests.webhook_listener import Answer, Listener

SECRET = "T0001/B0002/s3cr3t-webhook-token"
PATH = f"/services/{SECRET}"
GATE = Notification(
    key="orchestration-OPS-12/gate/PLAN/1",
    event="gate",
    issue_key="OPS-12",
    text="*OPS-12* waits for approval of PLAN <@U123>",
    link="https://acme.atlassian.net/browse/OPS-12?focusedCommentId=1&x=<y>",
)


@pytest.fixture
def session_factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def send(activities: NotifyActivities, n: Notification = GATE) -> str:
    result: str = ActivityEnvironment().run(activities.send_notification, n)
    return result


def send_failing(activities: NotifyActivities, n: Notification = GATE) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        send(activities, n)
    return err.value


def row(session_factory: sessionmaker[Session], key: str = GATE.key) -> NotificationDelivery:
    with session_factory() as session:
        found = session.get(NotificationDelivery, key)
    assert found is not None
    return found


def notifier(url: str | None, session_factory: sessionmaker[Session], timeout: float = 5) -> NotifyActivities:
    return NotifyActivities(NotifySettings(webhook_url=url, timeout_seconds=timeout), session_factory)


def test_sent_once_then_already_sent_without_a_request(
    listener: Listener, session_factory: sessionmaker[Session]
) -> None:
    activities = notifier(listener.url, session_factory)
    assert send(activities) == "sent"
    assert len(listener.requests) == 1
    assert send(activities) == "already-sent"
    assert len(listener.requests) == 1
    sent = row(session_factory)
    assert (sent.status, sent.attempts, sent.event, sent.issue_key) == ("sent", 1, "gate", "OPS-12")
    assert sent.sent_at is not None and sent.last_error is None


def test_the_post_carries_the_idempotency_key_and_slack_blocks(
    listener: Listener, session_factory: sessionmaker[Session]
) -> None:
    activities = notifier(listener.url, session_factory)
    send(activities)
    send(activities, Notification(key="k-2", event="completed", issue_key="OPS-12", text="done"))
    with_link, without_link = listener.requests
    assert with_link.path == PATH
    assert with_link.headers["Idempotency-Key"] == GATE.key
    assert with_link.headers["Content-Type"] == "application/json"
    shown = "*OPS-12* waits for approval of PLAN &lt;@U123&gt;"  # a mention in untrusted text is shown, not sent
    assert with_link.body == {
        "text": shown,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": shown}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "<https://acme.atlassian.net/browse/OPS-12?focusedCommentId=1&amp;x=&lt;y&gt;|OPS-12>",
                    }
                ],
            },
        ],
    }
    assert without_link.headers["Idempotency-Key"] == "k-2"
    assert without_link.body == {
        "text": "done",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}],
    }


def test_a_503_is_retryable_and_the_retry_sends(listener: Listener, session_factory: sessionmaker[Session]) -> None:
    listener.script = [Answer(503, "")]
    activities = notifier(listener.url, session_factory)
    err = send_failing(activities)
    assert (err.type, err.non_retryable, err.next_retry_delay) == ("NotifyUnavailable", False, None)
    assert err.message == "the notification webhook answered 503"
    pending = row(session_factory)
    assert (pending.status, pending.attempts, pending.last_error) == ("pending", 1, err.message)
    assert send(activities) == "sent"
    assert len(listener.requests) == 2
    assert [r.headers["Idempotency-Key"] for r in listener.requests] == [GATE.key, GATE.key]
    sent = row(session_factory)
    assert (sent.status, sent.attempts) == ("sent", 2)


def test_a_429_with_retry_after_sets_the_next_retry_delay(
    listener: Listener, session_factory: sessionmaker[Session]
) -> None:
    listener.script = [Answer(429, "rate_limited", {"Retry-After": "7"})]
    err = send_failing(notifier(listener.url, session_factory))
    assert (err.type, err.non_retryable) == ("NotifyUnavailable", False)
    assert err.next_retry_delay == timedelta(seconds=7)
    assert err.message == "the notification webhook answered 429 (rate_limited)"


def test_a_404_is_refused_for_good_and_marked_failed(
    listener: Listener, session_factory: sessionmaker[Session]
) -> None:
    listener.script = [Answer(404, "no_service\n")]
    err = send_failing(notifier(listener.url, session_factory))
    assert (err.type, err.non_retryable) == ("NotifyRefused", True)
    assert err.message == "the notification webhook answered 404 (no_service)"
    failed = row(session_factory)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, err.message)


def test_an_unreachable_or_silent_webhook_is_retryable(
    listener: Listener, session_factory: sessionmaker[Session]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}{PATH}"
    err = send_failing(notifier(closed, session_factory))
    assert (err.type, err.non_retryable) == ("NotifyUnavailable", False)
    assert err.message == "the notification webhook could not be reached (ConnectionError)"
    listener.hang.set()  # the listener takes the request and never answers
    err = send_failing(notifier(listener.url, session_factory, timeout=0.2))
    assert err.message == "the notification webhook did not answer within 0.2s"
    assert row(session_factory).attempts == 2


def test_disabled_without_a_webhook(session_factory: sessionmaker[Session]) -> None:
    assert send(notifier(None, session_factory)) == "disabled"
    with session_factory() as session:
        assert session.get(NotificationDelivery, GATE.key) is None


def test_the_url_is_in_no_error_log_line_or_row(
    listener: Listener, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs each request's path at DEBUG
    # A receiver that echoes the request path back in its error body must not get it into our message either.
    listener.script = [Answer(503, ""), Answer(400, f"bad request to {PATH}")]
    activities = notifier(listener.url, session_factory)
    errors = [send_failing(activities), send_failing(activities)]
    errors.append(send_failing(notifier(f"http://127.0.0.1:{free_port()}{PATH}", session_factory, timeout=1)))
    assert send(activities, Notification(key="k-3", event="failed", issue_key="OPS-12", text="x")) == "sent"
    assert errors[1].message == "the notification webhook answered 400 (bad request to /***)"
    assert any("urllib3" in r.name for r in caplog.records), "the HTTP library's lines were not captured"
    for err in errors:
        assert SECRET not in str(err) and err.__cause__ is None
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text
    assert SECRET not in (row(session_factory).last_error or "")
    assert SECRET not in repr(activities.settings)


def test_check_shows_the_webhook_host_only() -> None:
    assert check_notify(NotifySettings()).detail.startswith("disabled")
    configured = check_notify(NotifySettings(webhook_url=f"https://hooks.slack.com{PATH}"))
    assert configured.ok
    assert configured.detail == "webhook configured (hooks.slack.com); events gate, completed, failed, gate_timeout"


def test_the_worker_serves_send_notification(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path, DATABASE_URL=sqlite_url)
    served = [fn for fn in activity_functions(settings) if isinstance(getattr(fn, "__self__", None), NotifyActivities)]
    assert [getattr(fn, "__name__", "") for fn in served] == ["send_notification"]
