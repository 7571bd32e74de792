"""A test-only workflow that calls the dispatch activity the way the job workflow does (kept out of test modules
so the sandbox re-imports nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.agent_types import (
        EXECUTE_AGENT_JOB,
        GET_CREDENTIALS,
        AgentCommand,
        AgentOutcome,
        CredentialRefs,
        CredentialsRequest,
    )


@dataclass(frozen=True)
class DispatchInput:
    """The command, and the timeouts and retries to call it with."""

    command: AgentCommand
    heartbeat_seconds: float = 10
    attempts: int = 3
    retry_seconds: float = 0.2
    with_credentials: bool = False
    refs: list[str] = field(default_factory=list)


@workflow.defn
class DispatchWorkflow:
    """Runs one agent command through `execute_agent_job` (optionally after `get_credentials`)."""

    @workflow.run
    async def run(self, params: DispatchInput) -> AgentOutcome:
        """Dispatch and return the outcome."""
        command = params.command
        if params.with_credentials:
            refs = await workflow.execute_activity(
                GET_CREDENTIALS,
                CredentialsRequest(command.job_id, command.issue_key),
                result_type=CredentialRefs,
                start_to_close_timeout=timedelta(seconds=30),
            )
            command = replace(command, credential_refs=refs.refs)
        return await workflow.execute_activity(
            EXECUTE_AGENT_JOB,
            command,
            result_type=AgentOutcome,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=params.heartbeat_seconds),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=params.retry_seconds),
                backoff_coefficient=1.5,
                maximum_attempts=params.attempts,
                non_retryable_error_types=["ValidationError", "AuthenticationError"],
            ),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
