"""What a job workflow does once its outcome is recorded: report to its orchestration, then start the next job.

If the job failed in a way that may mean its agent is gone (not a verdict on the work such as failing tests or
a refused request), the agent is pinged at once: no answer, and the job goes back to the queue (or fails after
its recoveries) instead of failing the run; that ping also counts towards the agent's health, so a dead agent
is not handed the job again. Then the queue is nudged, so the next job starts without waiting for a tick.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import FailureError

from workflows.agent_health import AgentHealthCheckWorkflow
from workflows.ids import workflow_id_for
from workflows.job_signals import JobSignals
from workflows.job_types import ErrorKind, JobInput, JobResult
from workflows.nudge import nudge_queue
from workflows.policies import DB_RETRY, DB_WRITE
from workflows.queue_types import HealthCheckInput, is_run_id
from workflows.recovery import tell_orchestration

with workflow.unsafe.imports_passed_through():
    from activities.recovery import RecoverInput, RecoveryActivities

# Outcomes that judge the work itself: the agent was there to give them.
VERDICTS = frozenset(
    {
        ErrorKind.TESTS_FAILED,
        ErrorKind.VERIFICATION_FAILED,
        ErrorKind.BAD_REQUEST,
        ErrorKind.PERMISSION_DENIED,
        ErrorKind.CANCELLED,
        ErrorKind.INVALID_RESULT,
        "ValidationError",
        "AuthenticationError",
    }
)


def may_mean_agent_lost(result: JobResult) -> bool:
    """True for a failure that is not a verdict on the work (a crash, a timeout, a lost connection)."""
    return not result.success and result.error_kind not in VERDICTS


async def hand_off(job: JobInput, result: JobResult, agent_id: str) -> None:
    """Tell the orchestration how the job ended (or that it went back to the queue), then nudge the queue."""
    info = workflow.info()
    if may_mean_agent_lost(result) and not await _agent_answers(agent_id, f"{info.workflow_id}-{info.run_id}"):
        recovery = await workflow.execute_activity_method(
            RecoveryActivities.recover_job,
            RecoverInput(job.job_id, info.run_id, f"agent {agent_id} stopped answering: {result.error or ''}"),
            start_to_close_timeout=DB_WRITE,
            retry_policy=DB_RETRY,
        )
        if recovery.outcome != "skipped":
            await tell_orchestration(recovery)
    elif is_run_id(job.orchestration_run_id):
        orchestration = workflow.get_external_workflow_handle(
            workflow_id_for(job.issue_key), run_id=job.orchestration_run_id
        )
        try:
            await orchestration.signal(JobSignals.job_finished, result)
        except FailureError as err:  # the run has ended (cancelled, terminated): nobody is waiting
            workflow.logger.info("job.result-unheard job=%s (%s)", job.job_id, err)
    await nudge_queue("a job ended", f"after-{info.workflow_id}-{info.run_id}", in_place=job.lean or None)


async def _agent_answers(agent_id: str, key: str) -> bool:
    health = await workflow.execute_child_workflow(
        AgentHealthCheckWorkflow.run, HealthCheckInput(agent_id), id=f"agent-health-{agent_id}-after-{key}"
    )
    return any(check.ok for check in health.checked)
