"""The forge client's only retry layer (PyGithub and python-gitlab run with their own retries off): tenacity.

Retried: `ForgeUnavailable` (429, 5xx, a spent rate limit, timeouts, connection errors). `Retry-After`, or else
the rate limit's reset time (`X-RateLimit-Reset` on GitHub, `RateLimit-Reset` on GitLab), is the wait; otherwise
the wait starts at 1 s and doubles up to 30 s. Retrying stops before a wait would cross the budget
(`FORGE_RETRY_BUDGET`): the error then says how long it tried, and the activity's own retries take over.
A retry re-runs a whole operation, so every write finds the pull request first: a lost answer is not repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from app.forge.errors import ForgeUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class ForgeRetry:
    """How long one forge operation may keep retrying, with injectable sleep and clock (tests)."""

    budget: float
    first_backoff: float = 1.0
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run `fn`, retrying transient forge errors until it succeeds or the budget is spent."""
        start = self.clock()

        def stop(state: RetryCallState) -> bool:
            return self.clock() - start + (state.upcoming_sleep or 0.0) > self.budget

        def give_up(state: RetryCallState) -> T:
            last = state.outcome.exception() if state.outcome else None
            raise ForgeUnavailable(
                f"{what}: still failing after {self.clock() - start:.1f}s and {state.attempt_number} attempt(s); "
                f"last error: {last}",
                getattr(last, "status", None),
            ) from last

        def wait(state: RetryCallState) -> float:
            err = state.outcome.exception() if state.outcome else None
            asked = getattr(err, "retry_after", None)
            if asked is not None:
                return float(asked) + 0.5  # the reset is whole seconds: arrive just after it, not just before
            return min(self.max_backoff, self.first_backoff * 2.0 ** min(state.attempt_number - 1, 10))

        retrying = Retrying(
            retry=retry_if_exception_type(ForgeUnavailable),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            retry_error_callback=give_up,
        )
        return retrying(fn)
