"""Pausing and unpausing an agent's two schedules (queue monitor and health check), by their ids.

Kept apart from app/schedules.py (which builds the schedules from the workflow classes) so the activities that
pause schedules do not import every workflow.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows.queue_types import HEALTH_PREFIX, MONITOR_PREFIX


def agent_schedule_ids(agent_id: str) -> tuple[str, str]:
    """The agent's queue-monitor and health-check schedule ids."""
    return f"{MONITOR_PREFIX}{agent_id}", f"{HEALTH_PREFIX}{agent_id}"


async def set_agent_paused(client: Client, agent_id: str, paused: bool, note: str) -> list[str]:
    """Pause (or unpause) the agent's schedules; returns the ids changed (a missing or already-set one is skipped)."""
    changed = []
    for schedule_id in agent_schedule_ids(agent_id):
        handle = client.get_schedule_handle(schedule_id)
        try:
            description = await handle.describe()
            if description.schedule.state.paused == paused:
                continue
            if paused:
                await handle.pause(note=note)
            else:
                await handle.unpause(note=note)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue  # created at the next worker start-up or `orchestrator agents add`, in the right state
            raise
        changed.append(schedule_id)
    return changed
