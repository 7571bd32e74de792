"""Delivers the sandbox's webhooks the way Jira Cloud does, from a background thread reading the durable outbox.

Headers: `X-Atlassian-Webhook-Identifier` (the outbox id, the same on every retry), `X-Atlassian-Webhook-Retry`
(from the first retry on), `X-Atlassian-Webhook-Flow: Primary`, and `X-Hub-Signature: sha256=<hmac>` when
`JIRA_WEBHOOK_SECRET` is set. Retried on 408, 409, 425, 429, 5xx, a timeout or a connection error, with
doubling backoff (Jira waits minutes; the sandbox waits seconds), up to `max_retries` retries; any other 4xx
is not retried. Events caused by the bot's own writes are delivered like anyone's.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from app.sandbox.faults import Faults
from app.sandbox.store import StateFile
from webhooks.verify import sign_jira_body

log = logging.getLogger(__name__)

RETRY_STATUSES = {408, 409, 425, 429}
REORDER_WAIT = 2.0
IDLE_WAIT = 1.0
# Accepted deliveries leave the outbox together, at most this long after their answer: each removal rewrites the
# state file, which with many issues took longer than the delivery. A sandbox killed in between sends them again
# (Jira's deliveries are at least once too; the receiver dedups by the identifier).
SETTLE_EVERY = 0.25


@dataclass(frozen=True)
class DeliveryPolicy:
    """Where and how webhooks are sent."""

    url: str
    secret: str = ""
    max_retries: int = 5
    first_backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: tuple[float, float] = (5.0, 20.0)  # Jira Cloud's connect/response timeouts
    threads: int = 1  # deliveries at once (SANDBOX_WEBHOOK_THREADS); above 1 the outbox order is not kept


class WebhookSender:
    """The background sender: one thread, deliveries in outbox order unless a fault reorders them; with
    `policy.threads` above 1, each batch is sent that many at a time, as Jira Cloud sends (in no promised order)."""

    def __init__(self, store: StateFile, faults: Faults, policy: DeliveryPolicy) -> None:
        self.store = store
        self.faults = faults
        self.policy = policy
        self.session = requests.Session()
        self._sessions = threading.local()  # requests' Session is not thread-safe: one per sending thread
        self._opened: list[requests.Session] = []
        self._pool = ThreadPoolExecutor(policy.threads, "sandbox-webhook") if policy.threads > 1 else None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)

    def start(self) -> None:
        """Start delivering."""
        self.thread.start()

    def stop(self) -> None:
        """Stop after the delivery in progress; pending ones stay in the outbox for the next start."""
        self._stop.set()
        with self.store.outbox_changed:
            self.store.outbox_changed.notify_all()
        self.thread.join(timeout=30)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for session in [self.session, *self._opened]:
            session.close()

    def _run(self) -> None:
        if self._pool is not None:
            self._run_concurrently(self._pool)
            return
        while not self._stop.is_set():
            accepted: list[str] = []
            settled = time.monotonic()
            for delivery in self._next_batch():
                if self._stop.is_set():
                    break
                if self._deliver_once(delivery):
                    accepted.append(delivery["id"])
                if accepted and time.monotonic() - settled >= SETTLE_EVERY:
                    self.store.delivered(*accepted)
                    accepted, settled = [], time.monotonic()
            if accepted:  # before the next batch is read, so nothing accepted is sent twice
                self.store.delivered(*accepted)

    def _run_concurrently(self, pool: ThreadPoolExecutor) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            size = self.policy.threads * 4
            for start in range(0, len(batch), size):
                if self._stop.is_set():
                    return
                chunk = batch[start : start + size]
                sent = list(pool.map(self._deliver_once, chunk))
                accepted = [delivery["id"] for delivery, ok in zip(chunk, sent, strict=True) if ok]
                if accepted:
                    self.store.delivered(*accepted)

    def _deliver_once(self, delivery: dict[str, Any]) -> bool:
        """Send one delivery (and its duplicate when that fault is armed); True when it was accepted."""
        accepted = self._deliver(delivery)
        if self.faults.take_webhook("duplicate"):
            self._deliver(delivery, duplicate=True)
        return accepted

    def _next_batch(self) -> list[dict[str, Any]]:
        with self.store.outbox_changed:
            wait = self.store.next_due_in(time.time())
            # Checked under the lock `stop()` notifies under, so a stop is never missed while waiting.
            if not self._stop.is_set() and (wait is None or wait > 0):
                self.store.outbox_changed.wait(IDLE_WAIT if wait is None else min(wait, IDLE_WAIT))
        reorder = self.faults.pop_webhook("reorder")
        if reorder is None:
            return self.store.due(time.time())
        wanted, deadline = reorder.count or 2, time.monotonic() + REORDER_WAIT
        while len(self.store.due(time.time())) < wanted and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.02)
        due = self.store.due(time.time())
        return list(reversed(due[:wanted])) + due[wanted:]

    def _deliver(self, delivery: dict[str, Any], duplicate: bool = False) -> bool:
        """Send one delivery; True when the receiver accepted it (the caller removes it from the outbox)."""
        body = json.dumps(delivery["body"]).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            "X-Atlassian-Webhook-Identifier": delivery["id"],
            "X-Atlassian-Webhook-Flow": "Primary",
        }
        if delivery["attempts"]:
            headers["X-Atlassian-Webhook-Retry"] = str(delivery["attempts"])
        if self.policy.secret:
            headers["X-Hub-Signature"] = sign_jira_body(body, self.policy.secret)
        try:
            status: int | None = (
                self._session()
                .post(self.policy.url, data=body, headers=headers, timeout=self.policy.timeout)
                .status_code
            )
        except requests.RequestException as err:
            status, reason = None, type(err).__name__
        else:
            reason = f"answered {status}"
        if duplicate:
            return False  # the original delivery settles this outbox entry
        if status is not None and 200 <= status < 300:
            return True
        if status is None or status in RETRY_STATUSES or status >= 500:
            self._retry(delivery, reason)
        else:
            log.warning("sandbox.webhook.rejected event=%s id=%s %s", delivery["event"], delivery["id"], reason)
            self.store.give_up(delivery["id"], reason)
        return False

    def _session(self) -> requests.Session:
        if self._pool is None:
            return self.session
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
            self._opened.append(session)
        return session

    def _retry(self, delivery: dict[str, Any], reason: str) -> None:
        attempts = delivery["attempts"] + 1
        if attempts > self.policy.max_retries:
            log.warning("sandbox.webhook.gave-up event=%s id=%s %s", delivery["event"], delivery["id"], reason)
            self.store.give_up(delivery["id"], f"{reason} after {attempts} attempts")
            return
        delay = min(self.policy.max_backoff, self.policy.first_backoff * 2.0 ** (attempts - 1))
        log.info("sandbox.webhook.retry event=%s id=%s %s in=%.1fs", delivery["event"], delivery["id"], reason, delay)
        self.store.retry_later(delivery["id"], delay)
