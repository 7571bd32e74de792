"""Activities that act on Temporal itself: start job workflows and queue monitors, read and terminate job
workflows, pause and unpause agents' schedules.

They are `async` (the Temporal client is asyncio) and use the worker's own client. Workflows are started here,
not as child workflows of the short-lived monitor: a child that outlives its parent needs the ABANDON policy, and
the time-skipping test server never releases its clock after such a child completes (its parent is gone), which
would stop every timer of the tests after the first job. A start refuses a duplicate id (each job run has its
own id), so a retried start never runs a job twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.queue import ClaimedJob
from workflows.job_types import JobInput, JobResult
from workflows.queue_types import MonitorInput, MonitorResult, MonitorStart, agent_schedule_ids

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
class StartableWorkflows:
    """The run methods of the workflows these activities start, handed in by the worker's registry.

    Injected rather than imported: those workflows call these activities, so importing them here would be a cycle.
    """

    job_execution: Callable[[Any, JobInput], Awaitable[JobResult]]
    queue_monitor: Callable[[Any, MonitorInput], Awaitable[MonitorResult]]


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


class TemporalActivities:
    """Start, describe and terminate workflows, pause and unpause schedules, through the worker's client."""

    def __init__(self, client: Client, workflows: StartableWorkflows) -> None:
        self.client = client
        self.workflows = workflows

    @activity.defn
    async def start_job_workflow(self, claimed: ClaimedJob) -> bool:
        """Start the claimed job's JobExecutionWorkflow; False when that run already exists (a retried start)."""
        return await self._start_once(self.workflows.job_execution, claimed.job, claimed.workflow_id)

    @activity.defn
    async def start_queue_monitor(self, request: MonitorStart) -> bool:
        """Start a queue monitor now (a nudge); False when this nudge already ran."""
        arg = MonitorInput(agent_id=request.agent_id, reason=request.reason)
        return await self._start_once(self.workflows.queue_monitor, arg, f"queue-nudge-{request.key}")

    async def _start_once(self, run: Any, arg: Any, workflow_id: str) -> bool:
        try:
            await self.client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=activity.info().task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            return False  # it ran (and ended) already
        return True

    @activity.defn
    async def describe_workflows(self, request: WorkflowIds) -> list[WorkflowState]:
        """The status of each workflow's latest run; NOT_FOUND when Temporal has no such workflow."""
        states = []
        for workflow_id in request.workflow_ids:
            try:
                description = await self.client.get_workflow_handle(workflow_id).describe()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                states.append(WorkflowState(workflow_id, NOT_FOUND))
                continue
            status = description.status or WorkflowExecutionStatus.RUNNING
            states.append(WorkflowState(workflow_id, status.name, description.run_id))
        return states

    @activity.defn
    async def terminate_workflow(self, request: TerminateInput) -> bool:
        """Terminate the run; False when it had already ended (or never existed)."""
        handle = self.client.get_workflow_handle(request.workflow_id, run_id=request.run_id)
        try:
            await handle.terminate(reason=request.reason)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        activity.logger.warning(
            "queue.job-workflow-terminated workflow=%s reason=%s", request.workflow_id, request.reason
        )
        return True

    @activity.defn
    async def set_agent_schedules_paused(self, request: AgentSchedulesInput) -> list[str]:
        """Pause (agent offline) or unpause (agent back) the agent's schedules; returns the ids changed."""
        changed = await set_agent_paused(self.client, request.agent_id, request.paused, request.note)
        if changed:
            verb = "paused" if request.paused else "unpaused"
            activity.logger.info("agent.schedules-%s agent=%s schedules=%s", verb, request.agent_id, changed)
        return changed
