"""How people steer a run: the signals (webhook path), updates (CLI/API path) and the state query.

A mixin of `OrchestrationWorkflow`, kept apart so the phase logic reads like a script. Every command is
checked (who sent it, unless trusted), applied through the pure rules in `workflows.commands`, and answered
on the issue exactly once per delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.commands import (
    Verdict,
    can_approve,
    can_cancel,
    can_pause,
    can_reject,
    can_resume,
    can_retry,
    describe_status,
)
from workflows.messages import (
    ApproveInput,
    CancelInput,
    CommandContext,
    CommandInput,
    CommandResult,
    OrchestrationInput,
    PauseInput,
    RejectInput,
    ResumeInput,
    RetryInput,
    RunStatus,
    StatusInput,
)
from workflows.policies import JIRA_CALL, JIRA_HEARTBEAT, SEED_RETRY
from workflows.run_base import Decision, RunBase
from workflows.state import OrchestrationState
from workflows.wiki import inline, person

with workflow.unsafe.imports_passed_through():
    from activities.jira import ApproverQuery, JiraActivities

SEEN_DELIVERIES = 500
REMEMBERED_REFUSALS = 200  # people refused lately (each answered once per quiet window)


class SteeringHandlers(RunBase):
    """Signal, update and query handlers of `OrchestrationWorkflow`."""

    @workflow.signal
    async def approve(self, input: ApproveInput) -> None:
        """`/approve [notes]` or a transition into the approve status."""
        await self._command("approve", input.context, lambda: self._apply_approve(input))

    @workflow.signal
    async def reject(self, input: RejectInput) -> None:
        """`/reject <feedback>`."""
        await self._command("reject", input.context, lambda: self._apply_reject(input))

    @workflow.signal
    async def pause(self, input: PauseInput) -> None:
        """`/pause`."""
        await self._command("pause", input.context, self._apply_pause)

    @workflow.signal
    async def resume(self, input: ResumeInput) -> None:
        """`/resume`."""
        await self._command("resume", input.context, self._apply_resume)

    @workflow.signal
    async def cancel(self, input: CancelInput) -> None:
        """`/cancel`."""
        await self._command("cancel", input.context, lambda: self._apply_cancel(input))

    @workflow.signal
    async def retry(self, input: RetryInput) -> None:
        """`/retry [PHASE]`."""
        await self._command("retry", input.context, lambda: self._apply_retry(input))

    @workflow.signal
    async def status(self, input: StatusInput) -> None:
        """`/status`: answer on the issue."""
        await self._command("status", input.context, lambda: Verdict(True, describe_status(self.state)))

    @workflow.signal
    async def explain(self, input: CommandInput) -> None:
        """`/explain`: answer on the issue with what the run is waiting for, and what would move it on."""
        await self._command("explain", input.context, self._apply_explain)

    @workflow.update
    async def request_explain(self, input: CommandInput) -> CommandResult:
        """What the run is waiting for (always accepted)."""
        return _result(await self._command("explain", input.context, self._apply_explain))

    @workflow.update
    async def request_approve(self, input: ApproveInput) -> CommandResult:
        """Approve the waiting gate (rejected at once when nothing waits)."""
        return _result(await self._command("approve", input.context, lambda: self._apply_approve(input)))

    @request_approve.validator
    def _check_approve(self, input: ApproveInput) -> None:
        _require(can_approve(self.state))

    @workflow.update
    async def request_reject(self, input: RejectInput) -> CommandResult:
        """Reject the waiting gate with feedback."""
        return _result(await self._command("reject", input.context, lambda: self._apply_reject(input)))

    @request_reject.validator
    def _check_reject(self, input: RejectInput) -> None:
        _require(can_reject(self.state, input.feedback, self.input.limits.max_rejects))

    @workflow.update
    async def request_pause(self, input: PauseInput) -> CommandResult:
        """Pause before the next phase."""
        return _result(await self._command("pause", input.context, self._apply_pause))

    @request_pause.validator
    def _check_pause(self, input: PauseInput) -> None:
        _require(can_pause(self.state))

    @workflow.update
    async def request_resume(self, input: ResumeInput) -> CommandResult:
        """Resume a paused run."""
        return _result(await self._command("resume", input.context, self._apply_resume))

    @request_resume.validator
    def _check_resume(self, input: ResumeInput) -> None:
        _require(can_resume(self.state))

    @workflow.update
    async def request_cancel(self, input: CancelInput) -> CommandResult:
        """Cancel the run and its running agent job."""
        return _result(await self._command("cancel", input.context, lambda: self._apply_cancel(input)))

    @request_cancel.validator
    def _check_cancel(self, input: CancelInput) -> None:
        _require(can_cancel(self.state))

    @workflow.update
    async def request_retry(self, input: RetryInput) -> CommandResult:
        """Retry a failed (blocked) run."""
        return _result(await self._command("retry", input.context, lambda: self._apply_retry(input)))

    @request_retry.validator
    def _check_retry(self, input: RetryInput) -> None:
        _require(can_retry(self.state, input.phase, self.input.limits.max_retries))

    @workflow.query
    def get_status(self) -> OrchestrationState:
        """The run's whole state."""
        return self.state

    async def _command(self, verb: str, context: CommandContext, apply: Callable[[], Verdict]) -> Verdict | None:
        """Check who sent it (unless trusted), apply it, and answer on the issue; a repeated delivery is ignored."""
        if context.delivery_id:
            if context.delivery_id in self.memory.seen:
                return None
            self.memory.seen = [*self.memory.seen[-(SEEN_DELIVERIES - 1) :], context.delivery_id]
        if not context.trusted and self._refused_lately(context.actor):
            # Answered a moment ago: a flood of refused commands adds no Jira check, comment or history beyond this.
            self.state.refusals_ignored += 1
            return Verdict(False, "")
        async with self.lock:
            if not context.trusted:
                refusal = await self._refusal(verb, context)
                if refusal is not None:
                    if refusal.message:
                        self._answer(context, verb, refusal)
                    return refusal
            verdict = apply()
            self._answer(context, verb, verdict)
            if verdict.accepted:
                self._report()
            return verdict

    async def _refusal(self, verb: str, context: CommandContext) -> Verdict | None:
        try:
            decision = await workflow.execute_activity_method(
                JiraActivities.check_approver,
                ApproverQuery(self.input.issue_key, context.actor, self.input.started_by, verb),
                start_to_close_timeout=JIRA_CALL,
                heartbeat_timeout=JIRA_HEARTBEAT,
                retry_policy=SEED_RETRY,
            )
        except ActivityError:
            return Verdict(False, "could not check your permission (Jira did not answer); please send it again")
        if decision.allowed:
            return None
        if decision.is_bot:
            return Verdict(False, "")  # our own echo: no answer, or we would talk to ourselves
        quiet = self.input.limits.refusal_quiet_seconds
        if quiet:
            if self._refused_lately(context.actor):  # a second command refused while the first was checked
                self.state.refusals_ignored += 1
                return Verdict(False, "")
            self._remember_refusal(context.actor)
        later = f" Further commands from you in the next {_minutes(quiet)} get no answer." if quiet else ""
        return Verdict(False, f"you may not steer this run: {decision.reason}. {decision.who_may_approve}{later}")

    def _refused_lately(self, actor: str) -> bool:
        """Whether `actor` was refused (and answered) within the quiet window."""
        quiet = self.input.limits.refusal_quiet_seconds
        last = self.memory.refused.get(actor)
        if not quiet or last is None:
            return False
        return workflow.now() - datetime.fromisoformat(last) < timedelta(seconds=quiet)

    def _remember_refusal(self, actor: str) -> None:
        refused = self.memory.refused
        refused.pop(actor, None)  # re-inserted last: the oldest entries go first
        refused[actor] = workflow.now().isoformat()
        while len(refused) > REMEMBERED_REFUSALS:
            del refused[next(iter(refused))]

    def _answer(self, context: CommandContext, verb: str, verdict: Verdict) -> None:
        self.memory.answers += 1
        key = f"answer-{context.delivery_id or context.comment_id or self.memory.answers}"
        mark = "✅" if verdict.accepted else ("🚫" if "may not" in verdict.message else "ℹ️")
        who = person(context.actor, context.source)
        self.reporter.comment(key, f"{mark} {{{{/{verb}}}}} from {who} ({context.source.value}): {verdict.message}")

    def _apply_explain(self) -> Verdict:
        return Verdict(True, explain(self.state, self.input))

    def _apply_approve(self, input: ApproveInput) -> Verdict:
        verdict = can_approve(self.state)
        if verdict.accepted:
            self.memory.decision = Decision("approve", input.context.actor, input.notes, input.context.source)
        return verdict

    def _apply_reject(self, input: RejectInput) -> Verdict:
        verdict = can_reject(self.state, input.feedback, self.input.limits.max_rejects)
        if verdict.accepted:
            self.memory.decision = Decision("reject", input.context.actor, input.feedback, input.context.source)
        return verdict

    def _apply_pause(self) -> Verdict:
        verdict = can_pause(self.state)
        if verdict.accepted:
            self.state.paused = True
        return verdict

    def _apply_resume(self) -> Verdict:
        verdict = can_resume(self.state)
        if verdict.accepted:
            self.state.paused = False
        return verdict

    def _apply_cancel(self, input: CancelInput) -> Verdict:
        verdict = can_cancel(self.state)
        if verdict.accepted and self.memory.cancel_request is None:
            self.memory.cancel_request = input
        return verdict

    def _apply_retry(self, input: RetryInput) -> Verdict:
        verdict = can_retry(self.state, input.phase, self.input.limits.max_retries)
        if verdict.accepted:
            self.memory.retry_request = input
        return verdict


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _require(verdict: Verdict) -> None:
    """Reject an update before it is recorded when the command does not fit the run's state."""
    if not verdict.accepted:
        raise ValueError(verdict.message)


def _result(verdict: Verdict | None) -> CommandResult:
    if verdict is None:
        return CommandResult(False, "already handled (repeated delivery)")
    return CommandResult(verdict.accepted, verdict.message)


def explain(state: OrchestrationState, input: OrchestrationInput) -> str:
    """What the run is waiting for, and which command moves it on."""
    if state.status in (RunStatus.COMPLETED, RunStatus.CANCELLED):
        return f"The run is {state.status.value}: it waits for nothing. Adding the trigger label starts a new run."
    if state.status == RunStatus.FAILED:
        failure = state.failure
        why = (
            f"{failure.phase or 'the run'} failed ({failure.cause.value}): {inline(failure.message, 300)}"
            if failure
            else "it failed"
        )
        if input.limits.max_retries and state.retries >= input.limits.max_retries:
            most = f"It was retried {state.retries} times, the most a run may be"
            return f"The run is blocked: {why}. {most}: only {{{{/cancel}}}} moves it on."
        return f"The run is blocked: {why}. It waits for {{{{/retry [PHASE]}}}} (or {{{{/cancel}}}})."
    if state.pending_gate is not None:
        deadline = _gate_deadline(state, input)
        until = f", until {deadline} (then it is blocked)" if deadline else ""
        return (
            f"The run waits for a person to approve {state.pending_gate}{until}: {{{{/approve [notes]}}}} moves on, "
            f"{{{{/reject <feedback>}}}} redoes {state.pending_gate}."
        )
    if state.paused:
        return "The run is paused: it waits for {{/resume}} before it starts the next phase."
    if state.current_phase is None:
        return "The run is starting: it waits for nothing from you."
    attempt = state.record(state.current_phase).attempts
    return (
        f"The run is working on {state.current_phase} (attempt {attempt}; {inline(state.step, 120)}): it waits for "
        "the agent, nothing from you. {{/pause}} stops it before the next phase; {{/cancel}} ends it."
    )


def _gate_deadline(state: OrchestrationState, input: OrchestrationInput) -> str | None:
    """When the waiting gate times out: its phase's end plus the gate timeout (ISO time, to the minute)."""
    gate = state.pending_gate
    finished = state.record(gate).finished_at if gate else None
    if not finished:
        return None
    deadline = datetime.fromisoformat(finished) + timedelta(seconds=input.gate_timeout_seconds)
    return deadline.strftime("%Y-%m-%d %H:%M UTC")
