"""The job system's Temporal Schedules, created or updated idempotently at worker start-up.

Per agent: its queue monitor (`queue-monitor-<agent>`) and its health check (`agent-health-<agent>`), paused
while the agent is offline. Global: the probe of offline agents (`agent-revival`), the orphan and stuck job
sweep (`job-recovery`), the reconciliation sweep (`issue-reconcile`) and the retention sweep (`retention`).
Intervals come from settings; an update keeps a schedule's paused state and note, so a restart does not undo an
operator's pause.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from app.config import Settings
from app.temporal.gateway import not_found_is
from workflows.agent_health import AgentHealthCheckWorkflow
from workflows.queue_monitor import QueueMonitorWorkflow
from workflows.queue_types import (
    RECONCILE_ID,
    RECOVERY_ID,
    REVIVAL_ID,
    HealthCheckInput,
    MonitorInput,
    ReconcileInput,
    RecoveryInput,
    agent_schedule_ids,
)
from workflows.reconcile import ReconcileWorkflow
from workflows.recovery import JobRecoveryWorkflow
from workflows.retention import RETENTION_ID, RetentionInput, RetentionWorkflow

# A run that hangs must not block its schedule forever (overlap SKIP waits for it).
RUN_LIMIT = timedelta(minutes=15)


@dataclass(frozen=True)
class Plan:
    """One schedule as it should be: id, the workflow it starts (and its argument), and how often."""

    schedule_id: str
    workflow: Any
    arg: Any
    every: timedelta

    def schedule(self, task_queue: str, paused: bool = False, note: str | None = None) -> Schedule:
        """The Temporal schedule of this plan."""
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow, self.arg, id=self.schedule_id, task_queue=task_queue, execution_timeout=RUN_LIMIT
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=self.every)]),
            # Skip a tick while the last run still works; after an outage, run once rather than catch up.
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(self.every, timedelta(minutes=1))
            ),
            state=ScheduleState(paused=paused, note=note),
        )


def agent_plans(settings: Settings, agent_id: str) -> list[Plan]:
    """The agent's queue-monitor and health-check schedules."""
    monitor_id, health_id = agent_schedule_ids(agent_id)
    queue = settings.queue
    return [
        Plan(monitor_id, QueueMonitorWorkflow.run, MonitorInput(agent_id=agent_id), queue.monitor_interval),
        Plan(health_id, AgentHealthCheckWorkflow.run, HealthCheckInput(agent_id=agent_id), queue.health_interval),
    ]


def global_plans(settings: Settings) -> list[Plan]:
    """The schedules that are not per agent."""
    queue = settings.queue
    return [
        Plan(REVIVAL_ID, AgentHealthCheckWorkflow.run, HealthCheckInput(agent_id=None), queue.health_interval),
        Plan(RECOVERY_ID, JobRecoveryWorkflow.run, RecoveryInput(), queue.recovery_interval),
        Plan(
            RECONCILE_ID, ReconcileWorkflow.run, ReconcileInput(forge=settings.forge.enabled), queue.reconcile_interval
        ),
        Plan(RETENTION_ID, RetentionWorkflow.run, RetentionInput(), settings.retention.interval),
    ]


async def apply_plan(client: Client, plan: Plan, task_queue: str, paused: bool = False, note: str | None = None) -> str:
    """Create the schedule, or update it in place keeping its paused state; returns `created` or `updated`."""
    schedule = plan.schedule(task_queue, paused, note)
    try:
        await client.create_schedule(plan.schedule_id, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    async def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=dataclasses.replace(schedule, state=current.description.schedule.state))

    await client.get_schedule_handle(plan.schedule_id).update(keep_state)
    return "updated"


async def ensure_agent_schedules(client: Client, settings: Settings, agent_id: str, online: bool) -> dict[str, str]:
    """The agent's two schedules exist, are current, and are paused exactly when the agent is offline."""
    note = None if online else "agent offline"
    done = {
        plan.schedule_id: await apply_plan(client, plan, settings.temporal.task_queue, not online, note)
        for plan in agent_plans(settings, agent_id)
    }
    await set_agent_paused(client, agent_id, not online, "agent online" if online else "agent offline")
    return done


async def ensure_schedules(client: Client, settings: Settings, agents: dict[str, bool]) -> dict[str, str]:
    """Every schedule: the global ones and each agent's (`agents` maps agent id → online)."""
    done = {
        plan.schedule_id: await apply_plan(client, plan, settings.temporal.task_queue)
        for plan in global_plans(settings)
    }
    for agent_id, online in sorted(agents.items()):
        done.update(await ensure_agent_schedules(client, settings, agent_id, online))
    return done


async def set_agent_paused(client: Client, agent_id: str, paused: bool, note: str) -> list[str]:
    """Pause (or unpause) the agent's schedules; returns the ids changed (a missing or already-set one is skipped)."""
    changed = []
    for schedule_id in agent_schedule_ids(agent_id):
        handle = client.get_schedule_handle(schedule_id)
        # A missing schedule is created at the next worker start-up or `orchestrator agents add`, in the right state.
        with not_found_is(None) as found:
            description = await handle.describe()
            if description.schedule.state.paused == paused:
                continue
            if paused:
                await handle.pause(note=note)
            else:
                await handle.unpause(note=note)
        if found:
            changed.append(schedule_id)
    return changed


async def agent_schedules_paused(client: Client, agent_id: str) -> bool | None:
    """True when any of the agent's schedules is paused, False when none is, None when it has no schedule yet."""
    states = []
    for schedule_id in agent_schedule_ids(agent_id):
        with not_found_is(None):
            states.append((await client.get_schedule_handle(schedule_id).describe()).schedule.state.paused)
    return any(states) if states else None
