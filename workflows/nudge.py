"""Starting a queue monitor now, instead of waiting for its schedule's next tick (a "nudge")."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.policies import SHORT
from workflows.queue_types import MonitorStart

with workflow.unsafe.imports_passed_through():
    from activities.temporal_ops import TemporalActivities

NUDGE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)


async def nudge_queue(reason: str, key: str, agent_id: str | None = None) -> None:
    """Start a queue monitor for `agent_id` (every idle agent when None) that runs on its own.

    `key` names the cause (a job id, a run id), so a repeat of the same nudge starts one monitor. A nudge that
    cannot be started is only a delay: the agents' schedules look for work on every tick anyway.
    """
    try:
        await workflow.execute_activity_method(
            TemporalActivities.start_queue_monitor,
            MonitorStart(key, reason, agent_id),
            start_to_close_timeout=SHORT,
            retry_policy=NUDGE_RETRY,
        )
    except ActivityError as err:
        workflow.logger.warning("queue.nudge-failed key=%s (%s)", key, err)
