"""The bot's own Jira account id, so its echoes are ignored, known without a Jira call inside a request.

From `JIRA_BOT_ACCOUNT_ID` when set; otherwise, from the first delivery on, a background thread asks Jira's
`/myself` (retrying with backoff) and caches the answer for the process. (Not at start-up: a web process that
never receives a Jira delivery, such as a console-only one, never calls Jira for it.) Until it is known, commands
are still dispatched: the workflow checks every actor and refuses the bot's own commands too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.jira_gateway.client import build_client

if TYPE_CHECKING:
    from app.config import JiraSettings

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 300.0
LOOKUP_TIMEOUT_SECONDS = 10.0


class BotIdentity:
    """The bot's account id: configured, or learnt once in the background."""

    def __init__(self, account_id: str | None = None, fetch: Callable[[], str] | None = None) -> None:
        self._account_id = account_id
        self._fetch = fetch
        self._stop = threading.Event()
        self._starting = threading.Lock()
        self.thread: threading.Thread | None = None

    @property
    def account_id(self) -> str | None:
        """The bot's account id, or None while it is not known yet."""
        return self._account_id

    def current(self) -> str | None:
        """The account id if known; else None, and the first such call starts learning it in the background."""
        if self._account_id is None and self._fetch is not None and self.thread is None:
            with self._starting:
                if self.thread is None:
                    self.learn_in_background(self._fetch)
        return self._account_id

    def learn_in_background(
        self, fetch: Callable[[], str], first_retry: float = FIRST_RETRY_SECONDS, max_retry: float = MAX_RETRY_SECONDS
    ) -> None:
        """Start a daemon thread that calls `fetch` until it answers, backing off between failures."""
        self.thread = threading.Thread(
            target=self._learn, args=(fetch, first_retry, max_retry), name="jira-bot-identity", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Stop trying (tests, shutdown)."""
        self._stop.set()

    def _learn(self, fetch: Callable[[], str], delay: float, max_retry: float) -> None:
        while not self._stop.is_set():
            try:
                account_id = fetch()
            except Exception as err:  # a background lookup must never die: whatever went wrong, it tries again
                log.warning("jira.bot-identity.lookup-failed reason=%s retry_in=%.0fs", describe_error(err), delay)
            else:
                self._account_id = account_id
                log.info("jira.bot-identity.known account_id=%s", account_id)
                return
            self._stop.wait(delay)
            delay = min(delay * 2, max_retry)


def fetch_bot_account_id(settings: JiraSettings) -> str:
    """Ask Jira (or the sandbox Jira) who the bot is: `GET /rest/api/2/myself` → `accountId`."""
    # No retries inside: our own loop retries, with backoff.
    client = build_client(settings, min(settings.timeout.total_seconds(), LOOKUP_TIMEOUT_SECONDS))
    account_id = client.myself().get("accountId")
    if not isinstance(account_id, str) or not account_id:
        raise ValueError("/myself answered without an accountId")
    return account_id


def describe_error(err: BaseException) -> str:
    """A short reason without URLs, bodies or credentials."""
    status = getattr(err, "status_code", None)
    if status is not None:
        return f"Jira answered {status}"
    return type(err).__name__
