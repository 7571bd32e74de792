"""How an orchestration hears about its queued jobs: the `job_finished` and `job_recovered` signals (a mixin).

The job workflow runs apart from the orchestration (the queue monitor starts it when an agent is free), so
its end is reported by signal, to the exact orchestration run that queued it. Signals may arrive twice (a
retried sender); handlers only record, so a repeat changes nothing.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.job_types import ErrorKind, JobResult
from workflows.queue_types import JobRecovered
from workflows.run_base import RunBase
from workflows.wiki import inline


class JobSignals(RunBase):
    """The signal handlers: they record into the run's memory, and report on the issue."""

    @workflow.signal
    def job_finished(self, result: JobResult) -> None:
        """A job of this run ended (succeeded, failed or was cancelled)."""
        self.memory.job_results[result.job_id] = result

    @workflow.signal
    def job_recovered(self, notice: JobRecovered) -> None:
        """A job of this run was lost (agent gone, workflow ended without a result, or stuck): requeued or failed."""
        if notice.requeued:
            text = (
                f"🔁 The agent job {inline(notice.job_id, 120)} was lost ({inline(notice.reason)}); "
                f"it is back at the head of the queue (recovery {notice.recoveries})."
            )
        else:
            text = (
                f"⚠️ The agent job {inline(notice.job_id, 120)} was lost ({inline(notice.reason)}) "
                "and will not be retried automatically."
            )
            self.memory.job_results[notice.job_id] = JobResult(
                notice.job_id, False, error_kind=ErrorKind.AGENT_CRASHED, error=f"the job was lost: {notice.reason}"
            )
        key = f"job-recovered-{notice.job_id}-{notice.recoveries}-{'requeued' if notice.requeued else 'failed'}"
        self.reporter.comment(key, text)
