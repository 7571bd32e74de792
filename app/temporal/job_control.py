"""The job system's Temporal calls, the other half of control.py: start a claimed job's workflow and queue monitors,
describe, cancel and terminate job workflows, and tell an orchestration that its job ended.

Job workflows are started here, not as child workflows of the short-lived monitor: a child that outlives its parent
needs the ABANDON policy, and the time-skipping test server never releases its clock after such a child completes
(its parent is gone), which would stop every timer of the tests after the first job. A start refuses a duplicate id
(each job run and each nudge has its own id), so a retried start never runs a job or a monitor twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus

from activities.queue import ClaimedJob
from activities.temporal_ops import NOT_FOUND, TemporalCalls, TerminateInput, WorkflowState
from app.temporal.gateway import not_found_is, start_once
from app.temporal.schedules import set_agent_paused
from workflows.ids import workflow_id_for
from workflows.job_execution import JobExecutionWorkflow
from workflows.job_signals import JobSignals
from workflows.job_types import JobResult
from workflows.queue_monitor import QueueMonitorWorkflow
from workflows.queue_types import MonitorInput, MonitorStart, nudge_workflow_id


def temporal_calls(client: Client) -> TemporalCalls:
    """The calls the worker's TemporalActivities make, bound to the worker's client."""
    return TemporalCalls(
        start_job=lambda claimed, task_queue: start_job(client, task_queue, claimed),
        start_monitor=lambda start, task_queue: start_monitor(client, task_queue, start),
        describe=lambda workflow_id: describe(client, workflow_id),
        terminate=lambda request: terminate(client, request),
        set_agent_paused=lambda agent_id, paused, note: set_agent_paused(client, agent_id, paused, note),
    )


async def start_job(client: Client, task_queue: str, claimed: ClaimedJob) -> bool:
    """Start the claimed job's JobExecutionWorkflow; False when that run already exists (a retried start)."""
    return await start_once(client, task_queue, JobExecutionWorkflow.run, claimed.job, claimed.workflow_id)


async def start_monitor(client: Client, task_queue: str, start: MonitorStart) -> bool:
    """Start a queue monitor now (a nudge); False when this nudge already ran."""
    arg = MonitorInput(agent_id=start.agent_id, reason=start.reason)
    return await start_once(client, task_queue, QueueMonitorWorkflow.run, arg, nudge_workflow_id(start.key))


async def describe(client: Client, workflow_id: str) -> WorkflowState:
    """The status of the workflow's latest run; NOT_FOUND when Temporal has no such workflow."""
    with not_found_is(None) as found:
        description = await client.get_workflow_handle(workflow_id).describe()
    if not found:
        return WorkflowState(workflow_id, NOT_FOUND)
    status = description.status or WorkflowExecutionStatus.RUNNING
    return WorkflowState(workflow_id, status.name, description.run_id)


async def terminate(client: Client, request: TerminateInput) -> bool:
    """Terminate the run; False when it had already ended (or never existed)."""
    with not_found_is(None) as found:
        await client.get_workflow_handle(request.workflow_id, run_id=request.run_id).terminate(reason=request.reason)
    return bool(found)


async def cancel(client: Client, workflow_id: str) -> None:
    """Ask the job's workflow to cancel (its agent job is stopped through the activity's heartbeat)."""
    await client.get_workflow_handle(workflow_id).cancel()


async def describe_job(client: Client, workflow_id: str) -> dict[str, Any] | None:
    """Temporal's description of a job's workflow, or None when Temporal has none."""
    with not_found_is(None) as found:
        description = await client.get_workflow_handle(workflow_id).describe()
    if not found:
        return None
    return {
        "workflow_id": description.id,
        "run_id": description.run_id,
        "status": description.status.name if description.status else "RUNNING",
        "workflow_type": description.workflow_type,
        "task_queue": description.task_queue,
        "start_time": _iso(description.start_time),
        "close_time": _iso(description.close_time),
        "history_length": description.history_length,
    }


async def tell_job_finished(client: Client, issue_key: str, run_id: str, result: JobResult) -> None:
    """Signal the orchestration run that queued the job that it ended; nothing when that run has ended."""
    handle = client.get_workflow_handle(workflow_id_for(issue_key), run_id=run_id)
    with not_found_is(None):
        await handle.signal(JobSignals.job_finished, result)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
