"""The orphan and stuck job sweep (a Schedule), also run for one agent when it goes offline.

Lost: an in-progress job whose job workflow is no longer running (orphan), one quiet for longer than the stuck
threshold, or any job of an agent that went offline. A lost job goes back to the head of its project's queue,
or is marked failed after the configured number of recoveries; its orchestration is told either way.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

from workflows.ids import workflow_id_for
from workflows.job_signals import JobSignals
from workflows.nudge import nudge_queue
from workflows.policies import DB_RETRY, SHORT
from workflows.queue_types import JobRecovered, Recovery, RecoveryInput, RecoveryReport, is_run_id

with workflow.unsafe.imports_passed_through():
    from activities.recovery import RecoverInput, RecoveryActivities, Suspect, SuspectQuery
    from activities.temporal_ops import TemporalActivities, TerminateInput, WorkflowIds

TEMPORAL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)
RUNNING = "RUNNING"


def lost_reason(
    suspect: Suspect, workflow_status: str, stuck_after: float, grace: float, agent_offline: bool
) -> str | None:
    """Why the job counts as lost, or None while it is fine (pure: the sweep's whole judgement)."""
    if agent_offline:
        return f"its agent {suspect.agent_id} went offline"
    if workflow_status != RUNNING and suspect.claimed_seconds >= grace:
        state = "missing" if workflow_status == "NOT_FOUND" else workflow_status.lower().replace("_", " ")
        return f"its job workflow is {state}"
    if suspect.idle_seconds >= stuck_after:
        return f"no progress for {int(suspect.idle_seconds // 60)} minutes"
    return None


@workflow.defn
class JobRecoveryWorkflow:
    """Finds lost jobs, terminates what is left of their workflows, requeues or fails them. No signals/queries."""

    @workflow.run
    async def run(self, input: RecoveryInput) -> RecoveryReport:
        """Sweep once and report what was done."""
        listing = await workflow.execute_activity_method(
            RecoveryActivities.list_recovery_suspects,
            SuspectQuery(agent_id=input.lost_agent),
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )
        ids = [s.workflow_id for s in listing.suspects if s.workflow_id]
        states = await workflow.execute_activity_method(
            TemporalActivities.describe_workflows,
            WorkflowIds(ids),
            start_to_close_timeout=SHORT,
            retry_policy=TEMPORAL_RETRY,
        )
        status = {state.workflow_id: state.status for state in states}
        requeued: list[str] = []
        failed: list[str] = []
        for suspect in listing.suspects:
            state = status.get(suspect.workflow_id or "", "NOT_FOUND")
            reason = lost_reason(
                suspect, state, listing.stuck_after_seconds, listing.grace_seconds, input.lost_agent is not None
            )
            if reason is None:
                continue
            recovery = await self._recover(suspect, state, reason)
            (requeued if recovery.outcome == "requeued" else failed).append(suspect.job_id)
        report = RecoveryReport(len(listing.suspects), requeued, failed)
        if report.requeued or report.failed:
            workflow.logger.warning("queue.recovery requeued=%s failed=%s", report.requeued, report.failed)
        if requeued:
            await nudge_queue("recovered jobs", f"recovered-{workflow.info().run_id}")
        return report

    async def _recover(self, suspect: Suspect, state: str, reason: str) -> Recovery:
        if state == RUNNING and suspect.workflow_id:
            # Stuck or on a dead agent: stop what is left first, so it cannot report over the recovery.
            await workflow.execute_activity_method(
                TemporalActivities.terminate_workflow,
                TerminateInput(suspect.workflow_id, None, f"job recovery: {reason}"),
                start_to_close_timeout=SHORT,
                retry_policy=TEMPORAL_RETRY,
            )
        recovery = await workflow.execute_activity_method(
            RecoveryActivities.recover_job,
            RecoverInput(suspect.job_id, suspect.run_id, reason),
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )
        if recovery.outcome != "skipped":
            await tell_orchestration(recovery)
        return recovery


async def tell_orchestration(recovery: Recovery) -> None:
    """Signal `job_recovered` to the run that queued the job; a run that has ended needs no news."""
    job = recovery.job
    if not is_run_id(job.orchestration_run_id):
        return  # not queued by an orchestration run: nobody to tell
    handle = workflow.get_external_workflow_handle(workflow_id_for(job.issue_key), run_id=job.orchestration_run_id)
    notice = JobRecovered(job.job_id, recovery.outcome == "requeued", recovery.reason, recovery.recoveries)
    try:
        await handle.signal(JobSignals.job_recovered, notice)
    except FailureError as err:
        workflow.logger.info("queue.recovery-unheard job=%s issue=%s (%s)", job.job_id, job.issue_key, err)
