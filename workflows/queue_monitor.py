"""The queue monitor: a short run that gives idle agents their next job and starts it.

Run by a Schedule per agent (a tick), and started at once ("nudged") when a queue is resumed from the web or the
CLI (workflows nudge with one activity of their own: workflows/nudge.py). Its runs do the work in that same one
activity (activities/dispatch.py); runs from before did it in four. The claim checks, in one transaction, that the
agent is online and healthy with no job in progress and that the job's project is not paused and has nothing
running (separate checks before it would race other monitors), then moves the job to in progress. The job
workflow is started on its own, not as a child: this run ends at once and the job must outlive it (see
app/temporal/job_control.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.policies import DB_RETRY, DISPATCH_HEARTBEAT, SHORT
from workflows.queue_types import MonitorInput, MonitorResult

with workflow.unsafe.imports_passed_through():
    from activities.dispatch import DispatchActivities, DispatchInput
    from activities.queue import AgentRef, ClaimedJob, IdleAgentsQuery, JobLogEntry, QueueActivities
    from activities.temporal_ops import TemporalActivities

# A claimed job whose start keeps failing stays in progress without a workflow: the recovery sweep requeues it.
START_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)


@workflow.defn
class QueueMonitorWorkflow:
    """Claims and starts the next job for one agent, or for every idle agent. No signals or queries."""

    @workflow.run
    async def run(self, input: MonitorInput) -> MonitorResult:
        """Claim for each agent in turn and start what was claimed."""
        if workflow.patched("monitor-dispatches"):
            done = await workflow.execute_activity_method(
                DispatchActivities.dispatch_jobs,
                DispatchInput(input.reason, input.agent_id),
                start_to_close_timeout=SHORT,
                heartbeat_timeout=DISPATCH_HEARTBEAT,
                retry_policy=DB_RETRY,
            )
            return MonitorResult(done.agents, done.started)
        if input.agent_id is not None:
            agents = [input.agent_id]
        else:
            agents = await workflow.execute_activity_method(
                QueueActivities.list_idle_agents, IdleAgentsQuery(), start_to_close_timeout=SHORT, retry_policy=DB_RETRY
            )
        started = []
        for agent_id in agents:
            claimed = await workflow.execute_activity_method(
                QueueActivities.claim_next_job, AgentRef(agent_id), start_to_close_timeout=SHORT, retry_policy=DB_RETRY
            )
            if claimed is not None:
                await self._start(claimed, input.reason)
                started.append(claimed.job.job_id)
        return MonitorResult(agents, started)

    async def _start(self, claimed: ClaimedJob, reason: str) -> None:
        await workflow.execute_activity_method(
            QueueActivities.log_to_job,
            JobLogEntry(claimed.job.job_id, "info", f"claimed by agent {claimed.agent_id} ({reason})", "queue"),
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )
        await workflow.execute_activity_method(
            TemporalActivities.start_job_workflow, claimed, start_to_close_timeout=SHORT, retry_policy=START_RETRY
        )
