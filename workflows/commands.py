"""What each command does to the run's state, as pure functions: (accepted, the answer for the issue)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.messages import RunStatus
from workflows.phases import PHASE_ORDER
from workflows.state import OrchestrationState
from workflows.wiki import inline

FINISHED = {RunStatus.COMPLETED, RunStatus.CANCELLED}


@dataclass(frozen=True)
class Verdict:
    """Whether a command fits the run's state, and the sentence to answer with."""

    accepted: bool
    message: str


def can_approve(state: OrchestrationState) -> Verdict:
    """An approval needs a waiting gate."""
    if state.pending_gate is None:
        return Verdict(False, f"nothing to approve: no gate is waiting (the run is {_describe(state)})")
    return Verdict(True, f"approved {state.pending_gate}")


def can_reject(state: OrchestrationState, feedback: str, max_rejects: int = 0) -> Verdict:
    """A rejection needs a waiting gate, feedback to redo the phase with, and the phase under its cap (0: none)."""
    phase = state.pending_gate
    if phase is None:
        return Verdict(False, f"nothing to reject: no gate is waiting (the run is {_describe(state)})")
    if not feedback.strip():
        return Verdict(False, "a rejection needs feedback: {{/reject <what to change>}}")
    rejected = sum(1 for a in state.approvals if a.phase == phase and a.decision == "reject")
    if max_rejects and rejected >= max_rejects:
        return Verdict(
            False,
            f"{phase} was already rejected {rejected} times, the most a phase may be: {{{{/approve}}}} it, or "
            "{{/cancel}} the run and start again with a clearer issue",
        )
    return Verdict(True, f"{state.pending_gate} will be redone with your feedback")


def can_pause(state: OrchestrationState) -> Verdict:
    """Pause a live run that is not already paused."""
    if state.status in FINISHED or state.status == RunStatus.FAILED:
        return Verdict(False, f"nothing to pause: the run is {_describe(state)}")
    if state.paused:
        return Verdict(False, "the run is already paused; {{/resume}} continues it")
    return Verdict(True, "paused: the run stops before the next phase starts (a running job is not interrupted)")


def can_resume(state: OrchestrationState) -> Verdict:
    """Resume a paused run."""
    if not state.paused:
        return Verdict(False, f"nothing to resume: the run is not paused (it is {_describe(state)})")
    return Verdict(True, "resumed")


def can_cancel(state: OrchestrationState) -> Verdict:
    """Cancel anything not yet finished."""
    if state.status in FINISHED:
        return Verdict(False, f"nothing to cancel: the run is {_describe(state)}")
    return Verdict(True, "cancelling: the running agent job is stopped and the run ends")


def can_retry(state: OrchestrationState, phase: str | None, max_retries: int = 0) -> Verdict:
    """Retry needs a failed (blocked) run, if given a known phase, and the run under its cap (0: none)."""
    if state.status != RunStatus.FAILED:
        return Verdict(False, f"nothing to retry: the run is {_describe(state)}")
    if phase is not None and phase.upper() not in PHASE_ORDER:
        return Verdict(False, f"unknown phase {inline(phase, 40)}; phases are {', '.join(PHASE_ORDER)}")
    if max_retries and state.retries >= max_retries:
        return Verdict(
            False,
            f"the run was already retried {state.retries} times, the most a run may be: {{{{/cancel}}}} it, and "
            "add the trigger label again to start a new run",
        )
    target = retry_phase(state, phase)
    return Verdict(True, f"retrying from {target}")


def retry_phase(state: OrchestrationState, phase: str | None) -> str:
    """The phase a retry restarts at: the one given, else the failed one. FIX restarts the TEST/FIX loop at TEST."""
    target = (phase or (state.failure.phase if state.failure else None) or PHASE_ORDER[0]).upper()
    return "TEST" if target == "FIX" else target


def describe_status(state: OrchestrationState) -> str:
    """The `/status` answer: status, phase, pending gate, fix rounds."""
    parts = [f"The run is {_describe(state)}"]
    if state.current_phase:
        parts.append(f"current phase {state.current_phase}")
    if state.fix_rounds:
        parts.append(f"{state.fix_rounds} fix round(s) so far")
    done = [p.phase for p in state.phases if p.outcome.value == "succeeded"]
    if done:
        parts.append(f"done: {', '.join(done)}")
    return "; ".join(parts) + "."


def _describe(state: OrchestrationState) -> str:
    text = state.status.value.replace("_", " ")
    if state.pending_gate:
        text += f" after {state.pending_gate}"
    if state.paused and state.status != RunStatus.PAUSED:
        text += " (paused)"
    return text
