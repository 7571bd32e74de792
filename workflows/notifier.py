"""The run's chat notifications: each event posted once to the webhook, in the background, never in the run's way.

`send_notification` (activities/notify.py) keeps a row per event key, so a retried or replayed send posts nothing
twice; its own retries (5 s doubling to 5 min, ten attempts, a refusal is final) run beside the phases. A
notification that still fails is logged and dropped: a chat outage must not hold a run whose issue says it all.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notify import Notification, NotifyActivities

NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=10,
    non_retryable_error_types=["NotifyRefused"],
)
NOTIFY_TIMEOUT = timedelta(seconds=30)


class Notifier:
    """Starts one background send per event and lets the run wait for them (bounded) before it closes."""

    def __init__(self, run_key: str) -> None:
        self.run_key = run_key
        self.tasks: list[asyncio.Task[None]] = []

    def send(self, event: str, key: str, issue_key: str, text: str, link: str | None) -> None:
        """Post `text` for `event` once (keyed by this run and `key`), without waiting for it."""
        notice = Notification(f"{self.run_key}/{key}", event, issue_key, text, link)
        self.tasks.append(asyncio.create_task(self._deliver(notice)))

    @property
    def idle(self) -> bool:
        """True when every notification has been sent or given up."""
        return all(task.done() for task in self.tasks)

    async def _deliver(self, notice: Notification) -> None:
        try:
            await workflow.execute_activity_method(
                NotifyActivities.send_notification,
                notice,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("notify.dropped key=%s event=%s cause=%s", notice.key, notice.event, err.cause)
