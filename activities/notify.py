"""Chat notifications: one post to the Slack-compatible incoming webhook (NOTIFY_WEBHOOK_URL) per event key.

Sync activity (requests blocks), run on the worker's thread pool. The `notifications` row makes it exactly-once
from our side: a key already sent returns "already-sent" without a request. The one window left, a 2xx whose
commit is lost (worker killed between the two), is covered by `Idempotency-Key: <key>` for receivers that honour
it. Errors leave as ApplicationErrors: `NotifyUnavailable` (429, 5xx, no answer; retryable, after Retry-After
when given) and `NotifyRefused` (any other answer; non-retryable, row marked failed). The webhook's path is its
credential, so no message, row or log line carries the URL; the HTTP library's debug lines are redacted too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.config.notify import NotifySettings
from app.store.models import NotificationDelivery, utcnow

SENT = "sent"
ALREADY_SENT = "already-sent"
DISABLED = "disabled"
PENDING = "pending"
FAILED = "failed"
UNAVAILABLE = "NotifyUnavailable"
REFUSED = "NotifyRefused"

# urllib3 logs the request path (at DEBUG, and at WARNING for a malformed answer); these loggers get a redactor.
_HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry")


@dataclass(frozen=True)
class Notification:
    """One chat message; `key` names the event (run, event, gate), so it is posted once however often it is sent."""

    key: str
    event: str
    issue_key: str
    text: str
    link: str | None = None


class NotifyActivities:
    """Posts notifications to the configured incoming webhook, at most once per key (see the module docstring)."""

    def __init__(self, settings: NotifySettings, session_factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self._secret = _secret_part(settings.webhook_url)
        if self._secret:
            _redact_http_logs(self._secret)

    @activity.defn(name="send_notification")
    def send_notification(self, n: Notification) -> str:
        """Post the notification unless its key was sent before; returns "sent", "already-sent" or "disabled"."""
        url = self.settings.webhook_url
        if not url:
            return DISABLED
        if not self._begin_attempt(n):
            activity.logger.info("notify.webhook.already-sent key=%s", n.key)
            return ALREADY_SENT
        answer = self._post(url, n)
        if isinstance(answer, str):
            raise self._failure(n, answer, retryable=True)
        if 200 <= answer.status_code < 300:
            self._settle(n.key, SENT, None)
            activity.logger.info("notify.webhook.sent key=%s event=%s issue=%s", n.key, n.event, n.issue_key)
            return SENT
        problem = f"the notification webhook answered {answer.status_code}{self._said(answer)}"
        if answer.status_code == 429 or answer.status_code >= 500:
            raise self._failure(n, problem, retryable=True, delay=_retry_after(answer))
        raise self._failure(n, problem, retryable=False)

    def _begin_attempt(self, n: Notification) -> bool:
        """Count an attempt on the key's row (created on the first); False when the key was already sent."""
        with self.session_factory.begin() as session:
            row = session.get(NotificationDelivery, n.key)
            if row is None:
                row = NotificationDelivery(
                    key=n.key, issue_key=n.issue_key, event=n.event, status=PENDING, attempts=0, created_at=utcnow()
                )
                session.add(row)
            elif row.status == SENT:
                return False
            row.status = PENDING
            row.attempts += 1
        return True

    def _post(self, url: str, n: Notification) -> requests.Response | str:
        """The webhook's answer, or what went wrong in words that do not name the URL."""
        try:
            # No redirects: the body and key go to the configured host or nowhere.
            return requests.post(
                url,
                json=message_body(n),
                headers={"Idempotency-Key": n.key},
                timeout=self.settings.timeout_seconds,
                allow_redirects=False,
            )
        except requests.Timeout:
            return f"the notification webhook did not answer within {self.settings.timeout_seconds:g}s"
        except requests.RequestException as err:
            # str(err) holds the URL (and so the token): name only the kind of failure.
            return f"the notification webhook could not be reached ({type(err).__name__})"

    def _failure(
        self, n: Notification, problem: str, *, retryable: bool, delay: timedelta | None = None
    ) -> ApplicationError:
        """Record the problem on the row and build the error to raise (retryable: the row stays pending)."""
        self._settle(n.key, PENDING if retryable else FAILED, problem)
        activity.logger.warning("notify.webhook.failed key=%s: %s", n.key, problem)
        if retryable:
            return ApplicationError(problem, type=UNAVAILABLE, next_retry_delay=delay)
        return ApplicationError(problem, type=REFUSED, non_retryable=True)

    def _settle(self, key: str, status: str, problem: str | None) -> None:
        with self.session_factory.begin() as session:
            row = session.get(NotificationDelivery, key)
            if row is None:  # only if someone deleted it mid-send; nothing to record on
                return
            row.status = status
            if problem is not None:
                row.last_error = problem
            if status == SENT:
                row.sent_at = utcnow()

    def _said(self, answer: requests.Response) -> str:
        # Slack answers errors with one word (no_service, invalid_token, channel_is_archived): worth showing.
        lines = answer.text.strip().splitlines()
        text = lines[0][:100] if lines else ""
        if self._secret:
            text = text.replace(self._secret, "/***")
        return f" ({text})" if text else ""


def message_body(n: Notification) -> dict[str, Any]:
    """The Slack-compatible JSON: the text (the fallback) and blocks, a section and, with a link, a context line."""
    # The text carries agent output and people's words: escaped, so `<!channel>` or `<url|label>` in it is shown,
    # never acted on (&, < and > are Slack's control characters, escaped as entities).
    text = _escaped(n.text)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if n.link:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{_escaped(n.link)}|{_escaped(n.issue_key)}>"}],
            }
        )
    return {"text": text, "blocks": blocks}


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _retry_after(answer: requests.Response) -> timedelta | None:
    # Only delay-seconds; an HTTP date (rare from chat services) falls back to the workflow's retry policy.
    raw = answer.headers.get("Retry-After", "").strip()
    return timedelta(seconds=int(raw)) if raw.isdigit() else None


def _secret_part(url: str | None) -> str | None:
    """The URL's path and query, which carry the webhook's token; None when there is none."""
    if not url:
        return None
    parts = urlsplit(url)
    secret = parts.path + (f"?{parts.query}" if parts.query else "")
    return secret if len(secret) > 1 else None


class _HideSecret(logging.Filter):
    """Rewrites a record whose message contains the webhook's path (the HTTP library logs request paths)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "/***"), ()
        return True


def _redact_http_logs(secret: str) -> None:
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideSecret) and f.secret == secret for f in logger.filters):
            logger.addFilter(_HideSecret(secret))
