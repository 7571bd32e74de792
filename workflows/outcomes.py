"""How a run ends or stalls, and how it keeps Jira and the database informed (a mixin of the workflow).

Failures are classified (infrastructure / agent / tests / permission / Jira / timeout), a blocked run waits for
`/retry` or `/cancel`, and every state change is queued for the issue's status comment and saved to the database.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import search
from workflows.commands import retry_phase
from workflows.job_types import ErrorKind, JobResult
from workflows.messages import RunStatus
from workflows.notices import RunNotices
from workflows.phases import PHASE_ORDER
from workflows.policies import DB_RETRY, DB_WRITE
from workflows.pull_request import PullRequests
from workflows.report import failure_comment, run_figures, status_comment, summary_comment
from workflows.state import Cause, Failure, OrchestrationResult, Outcome
from workflows.steering import SteeringHandlers
from workflows.versions import released
from workflows.wiki import inline, person

with workflow.unsafe.imports_passed_through():
    from activities.jobs import CheckpointInput, JobActivities
    from activities.records import OrchestrationRecord, PhaseEnd, RecordActivities

# The board labels (with the configured blocked label): a board or a JQL filter shows what needs a person.
RUNNING_LABEL = "ai-running"
NEEDS_APPROVAL_LABEL = "ai-needs-approval"
DONE_LABEL = "ai-done"
# How long a closing run waits for its chat notifications' retries before it closes without them.
NOTIFY_DRAIN = timedelta(minutes=30)


def jira_refusal_cause(error: BaseException | None) -> Cause:
    """The cause of a Jira refusal: authentication for a refused token (401), permission for a missing right."""
    if not isinstance(error, ApplicationError) or error.type != "AuthenticationError":
        return Cause.JIRA
    # The activity sends Jira's status as the one detail; runs from before it have none (read as permission).
    return Cause.AUTHENTICATION if list(error.details)[:1] == [401] else Cause.PERMISSION


class RunOutcomes(SteeringHandlers, RunNotices, PullRequests):
    """Endings, failure reports, status comment, records and checkpoints of `OrchestrationWorkflow`."""

    def _stopped(self, phase: str) -> Failure | None:
        if self.memory.cancel_request is not None:
            return None
        if self.reporter.fatal is not None:
            return self._jira_failure(phase)
        days = self.input.gate_timeout_seconds / 86400
        return Failure(phase, Cause.TIMEOUT, f"paused for more than {days:g} days before {phase}")

    def _jira_failure(self, phase: str | None) -> Failure:
        fatal = self.reporter.fatal
        cause = jira_refusal_cause(fatal)
        return Failure(phase, cause, f"Jira refused a write: {fatal.message if fatal else 'unknown error'}")

    def _job_failure(self, phase: str, result: JobResult) -> Failure:
        kind = result.error_kind or ""
        cause = {
            ErrorKind.TESTS_FAILED: Cause.TESTS,
            "AuthenticationError": Cause.PERMISSION,
            ErrorKind.PERMISSION_DENIED: Cause.PERMISSION,
            ErrorKind.TIMEOUT: Cause.INFRASTRUCTURE,
        }.get(kind, Cause.AGENT)
        return Failure(
            phase, cause, result.error or result.summary or kind or "the agent job failed", result.last_output
        )

    def _jira_refusal_ends_waits(self) -> bool:
        """Whether a Jira write refused for good ends a wait for a person at once (nobody can see the gate or the
        pause, so waiting days for an answer would leave the run silently stuck); not in runs from before."""
        return released("jira-refusal-ends-waits", self.input.lean)

    def _board(self, label: str | None) -> None:
        """Show the run's state on the issue as exactly one board label (None: none, once the run is cancelled)."""
        if not self.input.board_labels or not released("board-labels", self.input.lean):
            return
        if label == self.memory.board:
            return
        self.memory.board = label
        every = [RUNNING_LABEL, NEEDS_APPROVAL_LABEL, self.input.statuses.blocked_label, DONE_LABEL]
        self.reporter.labels(add=[label] if label else [], remove=[other for other in every if other != label])

    def _block(self, failure: Failure) -> None:
        self.state.failure, self.state.status = failure, RunStatus.FAILED
        self.state.step = f"blocked in {failure.phase}" if failure.phase else "blocked"
        attempts = self.state.record(failure.phase).attempts if failure.phase else 0
        key = f"failure-{failure.phase}-{attempts}-{len(self.state.approvals)}"
        self.reporter.comment(key, failure_comment(failure, attempts) + self._mentions("failed"))
        where = f"blocked in {failure.phase}" if failure.phase else "blocked before any phase"
        self._notify("failed", key, f"{where} ({failure.cause.value}): {failure.message[:300]}")
        self.reporter.transition(self.input.statuses.blocked, fallback_label=self.input.statuses.blocked_label)
        self._board(self.input.statuses.blocked_label)
        self._report()

    async def _wait_for_retry(self) -> int | None:
        self.memory.retry_request = None
        try:
            await workflow.wait_condition(
                lambda: self.memory.retry_request is not None or self.memory.cancel_request is not None,
                timeout=timedelta(seconds=self.input.gate_timeout_seconds),
                timeout_summary="blocked, waiting for /retry",
            )
        except TimeoutError:
            return None
        if self.memory.retry_request is None:
            return None
        self.state.retries += 1
        target = retry_phase(self.state, self.memory.retry_request.phase)
        index = PHASE_ORDER.index(target)
        for record in self.state.phases[index:]:
            record.outcome = Outcome.PENDING
        if index <= PHASE_ORDER.index("TEST"):
            self.state.fix_rounds = 0
        self.state.failure, self.state.status = None, RunStatus.RUNNING
        self.reporter.labels(remove=[self.input.statuses.blocked_label])
        if self.input.statuses.in_progress:
            self.reporter.transition(self.input.statuses.in_progress)
        return index

    async def _complete(self) -> OrchestrationResult:
        now = workflow.now()
        self.state.status, self.state.step = RunStatus.COMPLETED, "done"
        self.state.current_phase, self.state.finished_at = None, now.isoformat()
        if self.state.pr_url:
            self.reporter.remote_link(
                f"jira-orchestrator:{self.input.issue_key}:pr",
                self.state.pr_url,
                f"Pull request for {self.input.issue_key}",
            )
        self.reporter.comment("summary", summary_comment(self.state, now) + self._mentions("completed"))
        figures = run_figures(self.state)
        pr = f" Pull request: {self.state.pr_url}" if self.state.pr_url else ""
        self._notify("completed", "completed", f"completed.{f' {figures}.' if figures else ''}{pr}")
        self._board(DONE_LABEL)
        if self.input.statuses.done:
            self.reporter.transition(self.input.statuses.done)
        self._report()
        await self._record()
        return OrchestrationResult(RunStatus.COMPLETED, pr_url=self.state.pr_url)

    def _end_cancelled(self, reason: str) -> OrchestrationResult:
        self.state.status, self.state.step = RunStatus.CANCELLED, "cancelled"
        self.state.finished_at, self.state.pending_gate = workflow.now().isoformat(), None
        for record in self.state.phases:
            if record.outcome == Outcome.RUNNING:
                record.outcome = Outcome.CANCELLED
        request = self.memory.cancel_request
        who = person(request.context.actor, request.context.source) if request else "Temporal"
        self.reporter.comment(
            "cancelled",
            f"⛔ Run cancelled by {who}: {inline(reason)}. "
            "Any running agent job was stopped; the Temporal history is kept.",
        )
        self._board(None)
        self._report()
        return OrchestrationResult(RunStatus.CANCELLED, pr_url=self.state.pr_url)

    def _end_failed(self) -> OrchestrationResult:
        self.state.finished_at = workflow.now().isoformat()
        failure = self.state.failure
        if failure is not None and failure.cause == Cause.TIMEOUT:
            self.reporter.comment(
                f"timeout-{failure.phase}",
                f"⌛ {inline(failure.message)}. The run has ended; add the label again to start over.",
            )
        self._report()
        return OrchestrationResult(RunStatus.FAILED, failure=failure)

    async def _drain(self, delivery: asyncio.Task[None]) -> None:
        """Let queued Jira writes and message handlers finish (bounded), then stop the delivery task."""
        await self._record()
        reporter = self.reporter
        try:
            await workflow.wait_condition(lambda: reporter.settled, timeout=timedelta(days=1))
            await workflow.wait_condition(workflow.all_handlers_finished, timeout=timedelta(minutes=10))
            if released("drain-delivers-late-answers", self.input.lean):
                # A handler that finished last may have queued its answer: deliver it before the run closes.
                await workflow.wait_condition(lambda: reporter.settled, timeout=timedelta(minutes=10))
        except TimeoutError:
            workflow.logger.warning("jira.outbox.undelivered count=%d", len(self.reporter.queue))
        if not self.notifier.idle:  # (runs without notifications never wait here: no new command in their history)
            try:
                await workflow.wait_condition(lambda: self.notifier.idle, timeout=NOTIFY_DRAIN)
            except TimeoutError:
                workflow.logger.warning("notify.undelivered: the run closes without them")
        delivery.cancel()

    def _report(self) -> None:
        self.reporter.status(status_comment(self.state, workflow.now(), self.memory.links))
        if not self.input.index_search_attributes:
            return
        updates = [
            search.ISSUE_KEY.value_set(self.input.issue_key),
            search.PROJECT_KEY.value_set(self.input.project_key),
            search.PHASE.value_set(self.state.current_phase or "-"),
            search.STATUS.value_set(self.state.status.value),
        ]
        if self.input.lean:
            # Each upsert is a Temporal action: send only what changed (runs from before sent all four each time).
            current = workflow.info().typed_search_attributes
            updates = [u for u in updates if current.get(u.key) != u.value]
            if not updates:
                return
        workflow.upsert_search_attributes(updates)

    def _record_now(self) -> OrchestrationRecord:
        failure = self.state.failure
        return OrchestrationRecord(
            self.input.issue_key,
            self.input.project_key,
            workflow.info().workflow_id,
            self.state.run_id,  # the first run's: a run continued as new keeps its one record
            self.state.status.value,
            self.state.current_phase,
            self.input.started_by,
            failure.message if failure else None,
            workflow.now() if self.state.finished_at else None,
        )

    async def _record(self) -> None:
        await workflow.execute_activity_method(
            RecordActivities.record_orchestration,
            self._record_now(),
            start_to_close_timeout=DB_WRITE,
            retry_policy=DB_RETRY,
        )

    async def _checkpoint(self, phase: str) -> None:
        checkpoint = CheckpointInput(
            self.state.run_id, self.input.issue_key, phase, json.dumps(asdict(self.state), default=str)
        )
        if self.input.lean:
            await workflow.execute_activity_method(
                RecordActivities.record_phase_end,
                PhaseEnd(self._record_now(), checkpoint),
                start_to_close_timeout=DB_WRITE,
                retry_policy=DB_RETRY,
            )
            return
        await self._record()  # runs from before: two activities
        await workflow.execute_activity_method(
            JobActivities.save_checkpoint, checkpoint, start_to_close_timeout=DB_WRITE, retry_policy=DB_RETRY
        )
