"""Looking for work for idle agents now, instead of waiting for their schedules' next tick (a "nudge")."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.policies import DISPATCH_HEARTBEAT, SHORT
from workflows.queue_types import MonitorStart

with workflow.unsafe.imports_passed_through():
    from activities.dispatch import DispatchActivities, DispatchInput
    from activities.temporal_ops import TemporalActivities

NUDGE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)


async def nudge_queue(reason: str, key: str, agent_id: str | None = None, in_place: bool | None = None) -> None:
    """Give `agent_id` (every idle agent when None) its next job now.

    One activity claims and starts (runs from before started a queue monitor workflow, keyed by `key`, so a
    repeat of the same nudge started one monitor). `in_place` is what the caller's input chose; None: this
    release's patch decides. A nudge that fails is only a delay: the agents' schedules look for work on every
    tick anyway.
    """
    try:
        if in_place if in_place is not None else workflow.patched("nudge-dispatches"):
            await workflow.execute_activity_method(
                DispatchActivities.dispatch_jobs,
                DispatchInput(reason, agent_id),
                start_to_close_timeout=SHORT,
                heartbeat_timeout=DISPATCH_HEARTBEAT,
                retry_policy=NUDGE_RETRY,
            )
            return
        await workflow.execute_activity_method(
            TemporalActivities.start_queue_monitor,
            MonitorStart(key, reason, agent_id),
            start_to_close_timeout=SHORT,
            retry_policy=NUDGE_RETRY,
        )
    except ActivityError as err:
        workflow.logger.warning("queue.nudge-failed key=%s (%s)", key, err)
