"""The gateway's only retry layer (the `jira` client runs with `max_retries=0`): tenacity, bounded in time.

Retried: `JiraUnavailable` (429, 5xx, 409/408/425, timeouts, connection errors). A `Retry-After` (429 and some
503s) is the minimum wait, never cut short (Atlassian penalises early retries); otherwise the wait starts at 2 s
and doubles up to 30 s with ×0.7–1.3 jitter (Atlassian's rate-limiting guidance). Retrying stops before a wait
would cross the budget (`JIRA_RETRY_BUDGET`), and the error then says how long and how often it tried.
Authentication, validation and not-found errors are raised at once.

A retry re-runs a whole gateway operation, not one HTTP request, so every write re-checks Jira first: a POST
whose answer was lost is found, not repeated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from app.jira_gateway.errors import JiraUnavailable

T = TypeVar("T")

FIRST_BACKOFF = 2.0
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How long a gateway operation may keep retrying, with injectable sleep and clock (tests)."""

    budget: float
    first_backoff: float = FIRST_BACKOFF
    max_backoff: float = MAX_BACKOFF
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run `fn`, retrying transient Jira errors until it succeeds or the budget is spent."""
        start = self.clock()

        def stop(state: RetryCallState) -> bool:
            return self.clock() - start + (state.upcoming_sleep or 0.0) > self.budget

        def give_up(state: RetryCallState) -> T:
            last = state.outcome.exception() if state.outcome else None
            elapsed = self.clock() - start
            raise JiraUnavailable(
                f"{what}: Jira still unavailable after {elapsed:.1f}s and {state.attempt_number} attempt(s) "
                f"(retry budget {self.budget:.0f}s); last error: {last}",
                getattr(last, "status", None),
            ) from last

        retrying = Retrying(
            retry=retry_if_exception_type(JiraUnavailable),
            wait=self._wait,
            stop=stop,
            sleep=self.sleep,
            retry_error_callback=give_up,
        )
        return retrying(fn)

    def _wait(self, state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        retry_after = getattr(err, "retry_after", None)
        if retry_after is not None:
            # At least what Jira asked for; a little more so a crowd of workers does not return in step.
            return float(retry_after) * random.uniform(1.0, 1.1)
        backoff = min(self.max_backoff, self.first_backoff * 2.0 ** (state.attempt_number - 1))
        return backoff * random.uniform(0.7, 1.3)
