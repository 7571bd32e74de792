"""The six-phase orchestration of one Jira issue: EXPLORE → PLAN → CODE → TEST ⇄ FIX → DOCUMENT."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict
from datetime import timedelta

from temporalio import workflow
from temporalio.converter import value_to_type
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, FailureError

from workflows.continuation import Continuation
from workflows.job_types import ErrorKind, JobInput, JobResult
from workflows.messages import OrchestrationInput, RunStatus
from workflows.notifier import Notifier
from workflows.outcomes import NEEDS_APPROVAL_LABEL, RUNNING_LABEL, RunOutcomes, jira_refusal_cause
from workflows.phases import MAX_FIX_ROUNDS, PHASE_ORDER, PHASE_SPECS
from workflows.policies import DB_RETRY, DB_WRITE, JIRA_CALL, JIRA_HEARTBEAT, SEED_RETRY
from workflows.queued_jobs import QueuedJobs
from workflows.report import gate_attachment, gate_comment, phase_prompt
from workflows.reporter import JiraReporter
from workflows.results import figures, plan_lines
from workflows.run_base import ContinuedRun, Decision, RunMemory
from workflows.state import Approval, Cause, Failure, OrchestrationResult, OrchestrationState, Outcome, PhaseRecord
from workflows.versions import released

with workflow.unsafe.imports_passed_through():
    from activities.jira import JiraActivities, ReadIssueInput
    from activities.jobs import JobActivities, NewJob
    from activities.records import RecordActivities, RunLinksInput
    from workflows.job_execution import JobExecutionWorkflow


@workflow.defn
class OrchestrationWorkflow(QueuedJobs, RunOutcomes, Continuation):
    """Walks one issue through the six phases, gated by people on the issue.

    Signals (the webhook's fire-and-forget path; the actor is checked, the answer posted on the issue):
    `approve`, `reject`, `pause`, `resume`, `cancel`, `retry`, `status`.
    Updates (the CLI/API path; validated, the caller learns at once): `request_approve`, `request_reject`,
    `request_pause`, `request_resume`, `request_cancel`, `request_retry`.
    Query: `get_status` (the whole `OrchestrationState`).
    From its jobs (workflows/job_signals.py): `job_finished`, `job_recovered`.
    """

    @workflow.init
    def __init__(self, input: OrchestrationInput) -> None:
        info = workflow.info()
        self.input = input
        self.lock = asyncio.Lock()
        self.continued = value_to_type(ContinuedRun, input.continued) if input.continued is not None else None
        if self.continued is not None:  # the run goes on where the run it continues left off
            self.state, self.memory = self.continued.state, self.continued.memory
            self.reporter = JiraReporter(input.issue_key, self.continued.report_key, input.lean)
            self.reporter.refused = set(self.continued.refused_writes)
            self.reporter.status_comment_id = self.continued.status_comment_id
            self.notifier = Notifier(self.continued.notify_key)
            return
        self.state = OrchestrationState(
            issue_key=input.issue_key,
            project_key=input.project_key,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            started_by=input.started_by,
            started_at=workflow.now().isoformat(),
            phases=[PhaseRecord(phase) for phase in PHASE_ORDER],
            source=input.source,
        )
        self.reporter = JiraReporter(input.issue_key, info.run_id, input.lean)
        self.notifier = Notifier(f"{info.workflow_id}/{info.run_id}")
        self.memory = RunMemory()

    @workflow.run
    async def run(self, input: OrchestrationInput) -> OrchestrationResult:
        """Run the phases, wait at gates, loop TEST/FIX, report on the issue, and finish."""
        delivery = asyncio.create_task(self.reporter.run())
        try:
            result = await self._orchestrate()
        except asyncio.CancelledError:
            # Cancelled through Temporal (API/CLI): say so on the issue before the run closes.
            self._end_cancelled("the run was cancelled through Temporal")
            await self._drain(delivery)
            raise
        await self._drain(delivery)
        if result.status == RunStatus.FAILED and result.failure is not None:
            raise ApplicationError(
                result.failure.message, asdict(result.failure), type=f"Run{result.failure.cause.name}"
            )
        return result

    async def _orchestrate(self) -> OrchestrationResult:
        if self.continued is not None:
            start = self.continued.next_phase
        else:
            unreadable = await self._begin()
            if unreadable is not None:
                self._block(unreadable)  # said on the issue if Jira still takes a comment; in the state either way
                return self._end_failed()
            start = 0
        while True:
            failure = await self._run_from(start)
            if self.memory.cancel_request is not None:
                return self._end_cancelled(self.memory.cancel_request.reason or "cancelled on request")
            if failure is None:
                return await self._complete()
            self._block(failure)
            if failure.cause == Cause.TIMEOUT or self.reporter.fatal is not None:
                return self._end_failed()
            restart = await self._wait_for_retry()
            if restart is None:
                if self.memory.cancel_request is not None:
                    return self._end_cancelled(self.memory.cancel_request.reason or "cancelled on request")
                return self._end_failed()
            start = restart

    async def _begin(self) -> Failure | None:
        info = workflow.info()
        links = await workflow.execute_activity_method(
            RecordActivities.run_links,
            RunLinksInput(self.input.issue_key, info.workflow_id, info.run_id),
            start_to_close_timeout=DB_WRITE,
            retry_policy=DB_RETRY,
        )
        self.memory.links = {"Temporal run": links.temporal, "Dashboard": links.dashboard}
        self.state.status = RunStatus.RUNNING
        self._board(RUNNING_LABEL)
        if not self.input.lean:
            # Runs from before posted a "starting" status comment here and edited it a moment later, as EXPLORE
            # started; a lean run's first status write is EXPLORE's (one Jira write fewer).
            self._report()
        if self.input.statuses.in_progress:
            self.reporter.transition(self.input.statuses.in_progress)
        try:
            issue = await workflow.execute_activity_method(
                JiraActivities.read_issue,
                ReadIssueInput(self.input.issue_key),
                start_to_close_timeout=JIRA_CALL,
                heartbeat_timeout=JIRA_HEARTBEAT,
                retry_policy=SEED_RETRY,
            )
            self.memory.issue_text = json.dumps(
                {"summary": issue.summary, "description": issue.description, "labels": issue.labels}
            )
        except ActivityError as err:  # an unreadable issue ends the run before any phase
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            denied = isinstance(cause, ApplicationError) and cause.type == "AuthenticationError"
            if released("unreadable-issue-is-reported", self.input.lean):
                return Failure(None, jira_refusal_cause(cause), f"cannot read the issue: {message}")
            raise ApplicationError(
                f"cannot read {self.input.issue_key}: {message}", type="RunPERMISSION" if denied else "RunJIRA"
            ) from err
        await self._record()
        return None

    async def _run_from(self, start: int) -> Failure | None:
        index = start
        while index < len(PHASE_ORDER):
            phase = PHASE_ORDER[index]
            if not await self._wait_unpaused():
                return self._stopped(phase)
            if self._history_is_long():
                await self._continue_as_new(index)  # returns only when the writes could not be drained in time
            if phase == "FIX":  # FIX only runs inside the TEST loop
                index += 1
                continue
            result = await self._run_phase(phase, "rework" if self.state.record(phase).attempts else "backlog")
            if result is None:
                return self._stopped(phase)
            if phase == "TEST":
                failure = await self._test_fix_loop(result)
                if failure is not None:
                    return failure
            elif not result.success:
                return self._job_failure(phase, result)
            if phase in self.input.gates and not self.input.auto_proceed:
                decision = await self._gate(phase, self._next_phase(index))
                if isinstance(decision, Failure):
                    return decision
                if decision is None:
                    return self._stopped(phase)
                if decision.verb == "reject":
                    continue
            index += 1
        return await self._open_pull_request()

    async def _test_fix_loop(self, test: JobResult) -> Failure | None:
        fix = self.state.record("FIX")
        while not test.success:
            if test.error_kind != ErrorKind.TESTS_FAILED:
                return self._job_failure("TEST", test)
            if self.state.fix_rounds >= MAX_FIX_ROUNDS:
                self.state.record("TEST").outcome = Outcome.FAILED
                return Failure(
                    "TEST", Cause.TESTS, f"tests still fail after {MAX_FIX_ROUNDS} fix rounds", test.last_output
                )
            self.state.fix_rounds += 1
            self.memory.feedback["FIX"] = test.outputs.get("test_report", test.summary)
            if not await self._wait_unpaused():
                return self._stopped("FIX")
            fixed = await self._run_phase("FIX", "rework")
            if fixed is None:
                return self._stopped("FIX")
            if not fixed.success:
                return self._job_failure("FIX", fixed)
            if not await self._wait_unpaused():
                return self._stopped("TEST")
            retest = await self._run_phase("TEST", "rework")
            if retest is None:
                return self._stopped("TEST")
            test = retest
        if fix.attempts == 0:
            fix.outcome, fix.summary = Outcome.SKIPPED, "not needed: tests passed"
        return None

    async def _run_phase(self, phase: str, queue_kind: str) -> JobResult | None:
        record = self.state.record(phase)
        record.attempts += 1
        record.outcome, record.started_at, record.finished_at = Outcome.RUNNING, workflow.now().isoformat(), None
        spec = PHASE_SPECS[phase]
        self.state.current_phase, self.state.status = phase, RunStatus.RUNNING
        self.state.step = f"{phase} running ({', '.join(spec.roles)})"
        self._board(RUNNING_LABEL)
        self._report()
        job = self._job_input(phase, record.attempts, queue_kind)
        record.job_ids.append(job.job_id)
        new = NewJob(
            job.job_id,
            job.orchestration_run_id,
            job.issue_key,
            job.project_key,
            phase,
            job.attempt,
            phase,
            job.roles,
            job.prompt,
            job.context,
            queue_kind,
        )
        # Runs from before created the job here, then queued it and nudged the queue: three activities, now one.
        if not self.input.lean:
            await self._create_job(new)
        result = await self._execute_job(job, new if self.input.lean else None)
        record.finished_at = workflow.now().isoformat()
        if result is None:
            record.outcome = Outcome.CANCELLED
            return None
        record.summary = result.summary
        record.outcome = Outcome.SUCCEEDED if result.success else Outcome.FAILED
        if result.success or result.error_kind == ErrorKind.TESTS_FAILED:
            self.state.outputs[phase] = phase_output(phase, result)
            if result.result is not None:
                self.state.results[phase] = result.result
            else:
                self.state.results.pop(phase, None)  # this attempt's agent reported only text
            if phase in self.input.gates and result.success:
                rejected = next((a for a in reversed(self.state.approvals) if a.phase == phase), None)
                rejection = rejected if rejected is not None and rejected.decision == "reject" else None
                self.state.add_version(phase, version_text(phase, result), record.finished_at, rejection)
        if result.pr_url:
            self.state.pr_url = result.pr_url
        self.memory.feedback.pop(phase, None)
        await self._checkpoint(phase)
        return result

    def _job_input(self, phase: str, attempt: int, queue_kind: str) -> JobInput:
        spec = PHASE_SPECS[phase]
        context = {
            "issue": json.loads(self.memory.issue_text or "{}"),
            "previous_outputs": {p: o for p, o in self.state.outputs.items() if p != phase},
            # The typed results of the earlier phases (CODE gets the approved plan's steps here, and its text above).
            "previous_results": {p: asdict(r) for p, r in self.state.results.items() if p != phase},
            "approvals": [asdict(a) for a in self.state.approvals],
            "feedback": self.memory.feedback.get(phase, ""),
        }
        summary = context["issue"].get("summary", "") if isinstance(context["issue"], dict) else ""
        return JobInput(
            job_id=f"{self.state.run_id}-{phase}-{attempt}",
            orchestration_run_id=workflow.info().run_id,  # where the job reports (a continued run has its own id)
            issue_key=self.input.issue_key,
            project_key=self.input.project_key,
            phase=phase,
            attempt=attempt,
            roles=list(spec.roles),
            prompt=phase_prompt(phase, self.input.issue_key, summary),
            context=json.dumps(context, sort_keys=True),
            queue_kind=queue_kind,
            pushes_branch=spec.pushes_branch,
            verifies=spec.verifies,
            agent_start_to_close_seconds=self.input.agent_start_to_close_seconds,
            agent_heartbeat_seconds=self.input.agent_heartbeat_seconds,
            lean=self.input.lean,
        )

    async def _create_job(self, new: NewJob) -> None:
        await workflow.execute_activity_method(
            JobActivities.create_job, new, start_to_close_timeout=DB_WRITE, retry_policy=DB_RETRY
        )

    async def _execute_job(self, job: JobInput, new: NewJob | None) -> JobResult | None:
        """Run the job's JobExecutionWorkflow; a cancel request cancels it (and so the agent job).

        `new` (lean runs, which always queue): the job's row is still to be created, with the queueing."""
        if released("job-queue", self.input.lean):
            return await self._run_queued_job(job, new)  # through the queue: one job per agent and per project
        child = await workflow.start_child_workflow(
            JobExecutionWorkflow.run, job, id=f"job-{job.job_id}", task_queue=workflow.info().task_queue
        )
        await workflow.wait_condition(lambda: child.done() or self.memory.cancel_request is not None)
        if not child.done():
            child.cancel()
            with contextlib.suppress(ChildWorkflowError, asyncio.CancelledError):
                await child
            return None
        try:
            return await child
        except ChildWorkflowError as err:
            # The job workflow itself failed (not the agent's work, which it reports as a result).
            root: BaseException = err
            while isinstance(root, FailureError) and root.cause is not None:
                root = root.cause
            kind = root.type if isinstance(root, ApplicationError) else None
            return JobResult(job.job_id, False, error_kind=kind or ErrorKind.AGENT_CRASHED, error=str(root))

    async def _gate(self, phase: str, next_phase: str | None) -> Decision | Failure | None:
        self.memory.decision = None
        self.state.pending_gate, self.state.status = phase, RunStatus.WAITING_FOR_APPROVAL
        self.state.step = f"waiting for approval after {phase}"
        self._board(NEEDS_APPROVAL_LABEL)
        key = f"gate-{phase}-{self.state.record(phase).attempts}"
        attachment = gate_attachment(self.state, phase)
        if attachment is not None and released("gate-attachments", self.input.lean):
            self.reporter.attach(*attachment)  # before the comment that points at it
        self.reporter.comment(key, gate_comment(self.state, phase, next_phase) + self._mentions("gate"))
        measured = figures(self.state.results.get(phase))
        self._notify("gate", key, f"{phase} is done{f' ({measured})' if measured else ''}; waiting for approval.")
        self._report()
        refusal_ends_wait = self._jira_refusal_ends_waits()
        try:
            await self._wait_at_gate(
                phase,
                key,
                lambda: (
                    self.memory.decision is not None
                    or self.memory.cancel_request is not None
                    or (refusal_ends_wait and self.reporter.fatal is not None)
                ),
            )
        except TimeoutError:
            self.state.pending_gate = None
            days = self.input.gate_timeout_seconds / 86400
            return Failure(phase, Cause.TIMEOUT, f"no approval or rejection within {days:g} days after {phase}")
        self.state.pending_gate = None
        decision = self.memory.decision
        if decision is None:
            return None
        self.state.approvals.append(
            Approval(phase, decision.verb, decision.actor, workflow.now().isoformat(), decision.text, decision.source)
        )
        record = self.state.record(phase)
        if decision.verb == "approve":
            record.approved_by = decision.actor
            record.approved_via = decision.source
        else:
            record.outcome = Outcome.REJECTED
            self.memory.feedback[phase] = decision.text
        self.state.status = RunStatus.RUNNING
        return decision

    async def _wait_unpaused(self) -> bool:
        """Hold before a phase while paused; False when cancelled, Jira refused us, or the pause timed out."""
        if self.reporter.fatal is not None:
            return False
        if not self.state.paused:
            return self.memory.cancel_request is None
        self.state.status, self.state.step = RunStatus.PAUSED, "paused before the next phase"
        self._report()
        refusal_ends_wait = self._jira_refusal_ends_waits()
        try:
            await workflow.wait_condition(
                lambda: (
                    not self.state.paused
                    or self.memory.cancel_request is not None
                    or (refusal_ends_wait and self.reporter.fatal is not None)
                ),
                timeout=timedelta(seconds=self.input.gate_timeout_seconds),
                timeout_summary="paused",
            )
        except TimeoutError:
            self.state.paused = False
            return False
        self.state.status = RunStatus.RUNNING
        refused = refusal_ends_wait and self.reporter.fatal is not None
        return self.memory.cancel_request is None and not refused

    def _next_phase(self, index: int) -> str | None:
        return PHASE_ORDER[index + 1] if index + 1 < len(PHASE_ORDER) else None


def phase_output(phase: str, result: JobResult) -> str:
    """The phase's work as its agent reported it (its named output), else the one-line summary."""
    outputs = result.outputs
    return outputs.get(PHASE_SPECS[phase].output) or outputs.get("report") or result.summary


def version_text(phase: str, result: JobResult) -> str:
    """What a version of a gated phase's work is compared by: a typed plan's steps, one per line, else its text."""
    typed = result.result.plan if result.result is not None else None
    return "\n".join(plan_lines(typed)) if typed is not None else phase_output(phase, result)
