"""One agent job (the seed's job execution): credentials → execute → verify → push/PR → cleanup."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityCancellationType

from workflows.job_handoff import hand_off
from workflows.job_types import ErrorKind, JobInput, JobResult
from workflows.policies import DB_RETRY, DB_WRITE
from workflows.versions import released

with workflow.unsafe.imports_passed_through():
    from activities.agent_types import (
        EXECUTE_AGENT_JOB,
        GET_CREDENTIALS,
        AgentCommand,
        AgentOutcome,
        CredentialRefs,
        CredentialsRequest,
    )
    from activities.jobs import AssignInput, JobActivities, JobFinished

# The seed's policy for agent work: 5 s, ×2, at most 5 min apart, 3 attempts; bad requests and refused
# credentials are not retried.
# The credential references are the worker's settings, read in memory: a worker lost meanwhile is noticed this soon.
CREDENTIALS_TIMEOUT = timedelta(seconds=10)
AGENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=3,
    non_retryable_error_types=["ValidationError", "AuthenticationError"],
)


@workflow.defn
class JobExecutionWorkflow:
    """Runs one phase's agent job on one agent and records how it ended. No signals; cancel it to stop the agent."""

    @workflow.run
    async def run(self, job: JobInput) -> JobResult:
        """Execute the job; cancellation stops the agent job and records it as cancelled."""
        info = workflow.info()
        assignment = await workflow.execute_activity_method(
            JobActivities.assign_agent,
            AssignInput(job.job_id, info.workflow_id, info.run_id),
            start_to_close_timeout=DB_WRITE,
            retry_policy=DB_RETRY,
        )
        agent = assignment.agent_address
        try:
            result = await self._work(job, agent)
        except asyncio.CancelledError:
            cancelled = JobResult(job.job_id, False, error_kind=ErrorKind.CANCELLED, error="cancelled")
            await self._finish(job, cancelled)
            await self._cleanup(job, agent)
            if released("queue-nudge", job.lean):
                await hand_off(job, cancelled, agent)
            raise
        await self._cleanup(job, agent)
        await self._finish(job, result)
        if released("queue-nudge", job.lean):
            await hand_off(job, result, agent)  # tell the orchestration, start the next job
        return result

    async def _work(self, job: JobInput, agent: str) -> JobResult:
        credentials = await workflow.execute_activity(
            GET_CREDENTIALS,
            CredentialsRequest(job.job_id, job.issue_key),
            result_type=CredentialRefs,
            start_to_close_timeout=CREDENTIALS_TIMEOUT,
            retry_policy=AGENT_RETRY,
        )
        try:
            outcome = await self._agent(job, agent, job.phase, credentials.refs)
            result = _result(job, outcome)
            if result.success and job.verifies:
                check = await self._agent(job, agent, "runVerification", credentials.refs)
                if not check.success and check.error_kind == ErrorKind.TESTS_FAILED:
                    # Failing tests are TEST's to report (and FIX's to repair), not a reason to block this phase.
                    outputs = {**result.outputs, "verification": check.summary or "tests failing"}
                    result = JobResult(
                        job.job_id,
                        True,
                        result.summary,
                        outputs,
                        last_output=check.last_output,
                        result=result.result,
                    )
                elif not check.success:
                    return JobResult(
                        job.job_id,
                        False,
                        result.summary,
                        dict(result.outputs),
                        ErrorKind.VERIFICATION_FAILED,
                        check.error or check.summary,
                        last_output=check.last_output,
                        result=result.result,
                    )
            if result.success and job.pushes_branch:
                pushed = await self._agent(job, agent, "createPR", credentials.refs)
                if not pushed.success:
                    return _result(job, pushed)
                pr_url = pushed.outputs.get("pr_url")
                return JobResult(
                    job.job_id, True, result.summary, dict(result.outputs), pr_url=pr_url, result=result.result
                )
            return result
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError from err  # the job itself is being cancelled
            return _failed(job, err)

    async def _agent(self, job: JobInput, agent: str, command: str, refs: list[str]) -> AgentOutcome:
        request = AgentCommand(
            job_id=job.job_id if command == job.phase else f"{job.job_id}:{command}",
            attempt=job.attempt,
            agent_address=agent,
            command=command,
            issue_key=job.issue_key,
            phase=job.phase,
            roles=list(job.roles),
            prompt=job.prompt,
            context=job.context,
            credential_refs=list(refs),
        )
        outcome: AgentOutcome = await workflow.execute_activity(
            EXECUTE_AGENT_JOB,
            request,
            result_type=AgentOutcome,
            start_to_close_timeout=timedelta(seconds=job.agent_start_to_close_seconds),
            heartbeat_timeout=timedelta(seconds=job.agent_heartbeat_seconds),
            retry_policy=AGENT_RETRY,
            # Wait until the activity has stopped the agent job, so "cancelled" is true when we record it.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return outcome

    async def _cleanup(self, job: JobInput, agent: str) -> None:
        # Cleanup never decides the job's outcome: a failure here is logged and left to the agent's own GC.
        try:
            await self._agent_short(job, agent)
        except ActivityError as err:
            workflow.logger.warning("job.cleanup-failed job=%s error=%s", job.job_id, err)

    async def _agent_short(self, job: JobInput, agent: str) -> None:
        request = AgentCommand(
            job_id=f"{job.job_id}:cleanup",
            attempt=job.attempt,
            agent_address=agent,
            command="cleanup",
            issue_key=job.issue_key,
            phase=job.phase,
            roles=list(job.roles),
            prompt="",
            context="{}",
            credential_refs=[],
        )
        await workflow.execute_activity(
            EXECUTE_AGENT_JOB,
            request,
            result_type=AgentOutcome,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=2),
        )

    async def _finish(self, job: JobInput, result: JobResult) -> None:
        status = (
            "completed" if result.success else ("cancelled" if result.error_kind == ErrorKind.CANCELLED else "failed")
        )
        await workflow.execute_activity_method(
            JobActivities.finish_job,
            JobFinished(
                job.job_id,
                status,
                result.summary,
                dict(result.outputs),
                result.pr_url,
                result.error_kind,
                result.error,
            ),
            start_to_close_timeout=DB_WRITE,
            retry_policy=DB_RETRY,
        )


def _result(job: JobInput, outcome: AgentOutcome) -> JobResult:
    return JobResult(
        job_id=job.job_id,
        success=outcome.success,
        summary=outcome.summary,
        outputs=dict(outcome.outputs),
        error_kind=outcome.error_kind,
        error=outcome.error,
        last_output=outcome.last_output,
        result=outcome.result,
    )


def _failed(job: JobInput, err: ActivityError) -> JobResult:
    cause = err.cause
    if isinstance(cause, ActivityTimeout):
        return JobResult(job.job_id, False, error_kind=ErrorKind.TIMEOUT, error=f"the agent went quiet: {cause}")
    raw = cause.type if isinstance(cause, ApplicationError) and cause.type else ""
    # The agent activity's error classes, as the kinds the orchestration reports.
    kind = {
        "ValidationError": ErrorKind.BAD_REQUEST,
        "AuthenticationError": "AuthenticationError",
        "PermissionDenied": ErrorKind.PERMISSION_DENIED,
    }.get(raw, ErrorKind.AGENT_CRASHED)
    message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
    return JobResult(job.job_id, False, error_kind=kind, error=message)
