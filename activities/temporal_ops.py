"""Activities that act on Temporal itself: start job workflows and queue monitors, read and terminate job
workflows, pause and unpause agents' schedules.

They are `async` (the Temporal client is asyncio) and make their calls through app/temporal/job_control.py, bound
to the worker's own client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio import activity

from activities.queue import ClaimedJob
from workflows.queue_types import MonitorStart

NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class WorkflowIds:
    """Which workflows to describe."""

    workflow_ids: list[str]


@dataclass(frozen=True)
class WorkflowState:
    """A workflow's latest run: its status name (RUNNING, COMPLETED, ... or NOT_FOUND) and run id."""

    workflow_id: str
    status: str
    run_id: str | None = None


@dataclass(frozen=True)
class TerminateInput:
    """Terminate this run of a workflow (the latest one when `run_id` is None), with a reason for its history."""

    workflow_id: str
    run_id: str | None
    reason: str


@dataclass(frozen=True)
class AgentSchedulesInput:
    """Pause or unpause one agent's queue-monitor and health-check schedules, with a note shown on them."""

    agent_id: str
    paused: bool
    note: str


@dataclass(frozen=True)
class TemporalCalls:
    """The Temporal calls behind these activities, from app/temporal/job_control.py (handed in by the worker's
    registry: they start workflows that call these activities, so importing them here would be a cycle)."""

    start_job: Callable[[ClaimedJob, str], Awaitable[bool]]  # (claimed job, task queue) → started now
    start_monitor: Callable[[MonitorStart, str], Awaitable[bool]]
    describe: Callable[[str], Awaitable[WorkflowState]]
    terminate: Callable[[TerminateInput], Awaitable[bool]]
    set_agent_paused: Callable[[str, bool, str], Awaitable[list[str]]]  # (agent, paused, note) → schedules changed


class TemporalActivities:
    """Start, describe and terminate workflows, pause and unpause schedules, through the worker's client."""

    def __init__(self, calls: TemporalCalls) -> None:
        self.calls = calls

    @activity.defn
    async def start_job_workflow(self, claimed: ClaimedJob) -> bool:
        """Start the claimed job's JobExecutionWorkflow; False when that run already exists (a retried start)."""
        return await self.calls.start_job(claimed, activity.info().task_queue)

    @activity.defn
    async def start_queue_monitor(self, request: MonitorStart) -> bool:
        """Start a queue monitor now (a nudge); False when this nudge already ran."""
        return await self.calls.start_monitor(request, activity.info().task_queue)

    @activity.defn
    async def describe_workflows(self, request: WorkflowIds) -> list[WorkflowState]:
        """The status of each workflow's latest run; NOT_FOUND when Temporal has no such workflow."""
        return [await self.calls.describe(workflow_id) for workflow_id in request.workflow_ids]

    @activity.defn
    async def terminate_workflow(self, request: TerminateInput) -> bool:
        """Terminate the run; False when it had already ended (or never existed)."""
        if not await self.calls.terminate(request):
            return False
        activity.logger.warning(
            "queue.job-workflow-terminated workflow=%s reason=%s", request.workflow_id, request.reason
        )
        return True

    @activity.defn
    async def set_agent_schedules_paused(self, request: AgentSchedulesInput) -> list[str]:
        """Pause (agent offline) or unpause (agent back) the agent's schedules; returns the ids changed."""
        changed = await self.calls.set_agent_paused(request.agent_id, request.paused, request.note)
        if changed:
            verb = "paused" if request.paused else "unpaused"
            activity.logger.info("agent.schedules-%s agent=%s schedules=%s", verb, request.agent_id, changed)
        return changed
