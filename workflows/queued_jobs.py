"""Running a phase's job through the queue (a mixin of OrchestrationWorkflow, behind `patched("job-queue")`).

The job is created, handed to the queue with its whole input and dispatched in one activity, which starts its job
workflow when an agent is free and the project's earlier jobs are done (else a later dispatch or tick does); the
job reports back by signal (`job_finished`, or `job_recovered` when it was lost). A cancel request withdraws the
job while it waits, or cancels its running workflow (and so the agent job) and waits until that has happened.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from workflows.job_signals import JobSignals
from workflows.job_types import JobInput, JobResult
from workflows.nudge import nudge_queue
from workflows.policies import DB_RETRY, DB_WRITE, DISPATCH_HEARTBEAT, SHORT

with workflow.unsafe.imports_passed_through():
    from activities.dispatch import DispatchActivities, QueueJobInput
    from activities.jobs import NewJob
    from activities.queue import EnqueueInput, QueueActivities, RemoveInput

# A cancelled job reports within seconds (the agent stops, cleanup runs); between tries we look again in case
# it was claimed but its workflow had not started yet, so there was nothing to cancel.
CANCEL_WAIT = timedelta(seconds=30)
CANCEL_TRIES = 20


class QueuedJobs(JobSignals):
    """Queue a job and wait for its result; a cancel request (set by the steering handlers) withdraws it."""

    async def _run_queued_job(self, job: JobInput, new: NewJob | None) -> JobResult | None:
        """The job's result, or None when the run was cancelled first (the job withdrawn or cancelled).

        `new`: create the job's row, queue it and dispatch in one activity (runs from before: the row exists)."""
        if new is not None:
            # The prompt and context (the earlier phases' work) go once, in the row; the queued spec refers to it.
            await workflow.execute_activity_method(
                DispatchActivities.queue_job,
                QueueJobInput(new, replace(job, prompt="", context="")),
                start_to_close_timeout=SHORT,
                heartbeat_timeout=DISPATCH_HEARTBEAT,
                retry_policy=DB_RETRY,
            )
        else:
            await workflow.execute_activity_method(
                QueueActivities.enqueue_job,
                EnqueueInput(replace(job, prompt="", context="")),
                start_to_close_timeout=DB_WRITE,
                retry_policy=DB_RETRY,
            )
            await nudge_queue(f"{job.job_id} queued", f"queued-{job.job_id}")
        await workflow.wait_condition(
            lambda: job.job_id in self.memory.job_results or self.memory.cancel_request is not None
        )
        if job.job_id in self.memory.job_results:
            return self.memory.job_results.pop(job.job_id)
        await self._stop_job(job)
        return None

    async def _stop_job(self, job: JobInput) -> None:
        reason = "the run was cancelled"
        for _ in range(CANCEL_TRIES):
            where = await workflow.execute_activity_method(
                QueueActivities.withdraw_job,
                RemoveInput(job.job_id, reason),
                start_to_close_timeout=DB_WRITE,
                retry_policy=DB_RETRY,
            )
            if where.state != "running" or where.workflow_id is None:
                break  # withdrawn before it started, or it has already ended
            try:
                await workflow.get_external_workflow_handle(where.workflow_id).cancel()
            except FailureError as err:
                workflow.logger.info("job.cancel-not-delivered job=%s (%s)", job.job_id, err)
            try:
                await workflow.wait_condition(lambda: job.job_id in self.memory.job_results, timeout=CANCEL_WAIT)
                break
            except TimeoutError:
                continue
        self.memory.job_results.pop(job.job_id, None)
