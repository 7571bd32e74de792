"""Intent → exactly one typed Temporal call on the issue's `orchestration-<KEY>` workflow.

Temporal is reached only through the app's `TemporalGateway` (`current_app.extensions["temporal"]`); the Flask
app itself is never imported here. Starts use USE_EXISTING (a live run is reused, a redelivered start is harmless)
and ALLOW_DUPLICATE (a finished run may be started again); commands are fire-and-forget signals that the workflow
checks (who sent it) and answers on the issue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from app.services.orchestrations import orchestration_input
from app.temporal.gateway import TemporalUnavailable
from webhooks.intents import (
    Approved,
    Cancelled,
    Intent,
    Origin,
    Paused,
    Rejected,
    Resumed,
    RetryRequested,
    StartRequested,
    StatusRequested,
)
from workflows import workflow_id_for
from workflows.messages import (
    ApproveInput,
    CancelInput,
    CommandContext,
    PauseInput,
    RejectInput,
    ResumeInput,
    RetryInput,
    StatusInput,
)
from workflows.orchestration import OrchestrationWorkflow
from workflows.state import OrchestrationResult

if TYPE_CHECKING:
    from app.config import Settings
    from app.temporal.gateway import TemporalGateway

Handle = WorkflowHandle[OrchestrationWorkflow, OrchestrationResult]


class NoRun(LookupError):
    """A command for an issue that has no live orchestration."""


@dataclass(frozen=True)
class Dispatched:
    """What was done: the action (`start` or the signal's verb), on which workflow, and the run (for starts)."""

    action: str
    workflow_id: str
    run_id: str | None = None


def dispatch(intent: Intent, delivery_id: str) -> Dispatched:
    """Make the intent's one Temporal call; raises NoRun, TemporalUnavailable or RPCError."""
    settings: Settings = current_app.extensions["settings"]
    temporal: TemporalGateway = current_app.extensions["temporal"]
    if not settings.temporal.enabled:
        raise TemporalUnavailable("Temporal is disabled (FEATURE_TEMPORAL_ENABLED=false)")
    origin = intent.origin
    context = _context(origin, delivery_id)
    signal = _Signaller(temporal, workflow_id_for(origin.issue_key))
    match intent:
        case StartRequested():
            return _start(temporal, settings, origin, delivery_id)
        case Approved(notes=notes):
            return signal("approve", lambda h: h.signal(OrchestrationWorkflow.approve, ApproveInput(context, notes)))
        case Rejected(feedback=feedback):
            return signal("reject", lambda h: h.signal(OrchestrationWorkflow.reject, RejectInput(context, feedback)))
        case Paused():
            return signal("pause", lambda h: h.signal(OrchestrationWorkflow.pause, PauseInput(context)))
        case Resumed():
            return signal("resume", lambda h: h.signal(OrchestrationWorkflow.resume, ResumeInput(context)))
        case Cancelled(reason=reason):
            return signal("cancel", lambda h: h.signal(OrchestrationWorkflow.cancel, CancelInput(context, reason)))
        case RetryRequested(phase=phase):
            return signal("retry", lambda h: h.signal(OrchestrationWorkflow.retry, RetryInput(context, phase)))
        case StatusRequested():
            return signal("status", lambda h: h.signal(OrchestrationWorkflow.status, StatusInput(context)))


def _start(temporal: TemporalGateway, settings: Settings, origin: Origin, delivery_id: str) -> Dispatched:
    workflow_id = workflow_id_for(origin.issue_key)
    input = orchestration_input(settings, origin.issue_key, origin.actor, origin.source, delivery_id)

    async def start(client: Client) -> str | None:
        handle = await client.start_workflow(
            OrchestrationWorkflow.run,
            input,
            id=workflow_id,
            task_queue=settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        return handle.result_run_id

    return Dispatched("start", workflow_id, temporal.call(start))


class _Signaller:
    """Sends one signal to the latest run of a workflow; NOT_FOUND (none, or it has finished) becomes NoRun."""

    def __init__(self, temporal: TemporalGateway, workflow_id: str) -> None:
        self.temporal = temporal
        self.workflow_id = workflow_id

    def __call__(self, verb: str, send: Callable[[Handle], Awaitable[None]]) -> Dispatched:
        async def call(client: Client) -> None:
            try:
                await send(client.get_workflow_handle_for(OrchestrationWorkflow.run, self.workflow_id))
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise NoRun(f"no run for {self.workflow_id}") from None
                raise

        self.temporal.call(call)
        return Dispatched(verb, self.workflow_id)


def _context(origin: Origin, delivery_id: str) -> CommandContext:
    # trusted=False: the workflow checks that the actor may steer the issue, and refuses (and answers) if not.
    return CommandContext(
        actor=origin.actor, delivery_id=delivery_id, comment_id=origin.comment_id, source=origin.source, trusted=False
    )
