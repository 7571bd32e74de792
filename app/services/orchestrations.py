"""Starting, steering and reading orchestrations: the one module the CLI and the HTTP API share.

The webhook path signals (fire-and-forget); this path uses the workflow's updates, so the caller learns at once
whether a command was accepted, and the operator (CLI shell or API token holder) is trusted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from app.config import Settings
from app.temporal.gateway import TemporalGateway
from workflows import workflow_id_for
from workflows.messages import (
    ApproveInput,
    CancelInput,
    CommandContext,
    CommandResult,
    JiraStatuses,
    OrchestrationInput,
    PauseInput,
    RejectInput,
    ResumeInput,
    RetryInput,
    Source,
)
from workflows.orchestration import OrchestrationWorkflow

VERBS = ("approve", "reject", "pause", "resume", "cancel", "retry")


class NoRun(LookupError):
    """There is no orchestration for this issue in Temporal."""


@dataclass(frozen=True)
class Started:
    """The run that a start request led to; `created` is False when a live run already existed."""

    workflow_id: str
    run_id: str
    created: bool


def orchestration_input(
    settings: Settings, issue_key: str, started_by: str | None, source: Source, delivery_id: str | None = None
) -> OrchestrationInput:
    """The workflow input for an issue, with the gates, timeout and statuses from settings."""
    key = issue_key.upper()
    orch = settings.orchestrator
    return OrchestrationInput(
        issue_key=key,
        project_key=key.rsplit("-", 1)[0],
        started_by=started_by,
        source=source,
        auto_proceed=orch.auto_proceed,
        gates=list(orch.gates),
        gate_timeout_seconds=int(orch.gate_timeout.total_seconds()),
        delivery_id=delivery_id,
        statuses=JiraStatuses(
            in_progress=orch.in_progress_status,
            done=orch.done_status,
            blocked=orch.blocked_status,
            blocked_label=orch.blocked_label,
        ),
        agent_start_to_close_seconds=int(settings.agents.start_to_close.total_seconds()),
        agent_heartbeat_seconds=int(settings.agents.heartbeat_timeout.total_seconds()),
    )


async def start_orchestration(client: Client, task_queue: str, input: OrchestrationInput) -> Started:
    """Start `orchestration-<KEY>`; a live run is reused (nothing new), a finished one may be started again."""
    workflow_id = workflow_id_for(input.issue_key)
    try:
        live = await client.get_workflow_handle(workflow_id).describe()
        if live.status == WorkflowExecutionStatus.RUNNING:
            return Started(workflow_id, live.run_id, created=False)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    # USE_EXISTING still guards the race where two starts both saw no live run.
    handle = await client.start_workflow(
        OrchestrationWorkflow.run,
        input,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    return Started(workflow_id, handle.result_run_id or "", created=True)


class OrchestrationService:
    """Sync operations on orchestrations for the CLI and the HTTP API."""

    def __init__(self, settings: Settings, temporal: TemporalGateway) -> None:
        self.settings = settings
        self.temporal = temporal

    def start(self, issue_key: str, started_by: str | None, source: Source) -> Started:
        """Start (or find the live) run of an issue."""
        input = orchestration_input(self.settings, issue_key, started_by, source)
        return self.temporal.call(lambda client: start_orchestration(client, self.settings.temporal.task_queue, input))

    def command(
        self, issue_key: str, verb: str, actor: str, text: str = "", source: Source = Source.CLI
    ) -> CommandResult:
        """Send a validated command; a command that does not fit the run's state comes back not accepted."""
        if verb not in VERBS:
            raise ValueError(f"unknown command {verb!r}; expected one of {', '.join(VERBS)}")
        context = CommandContext(actor=actor, source=source, trusted=True)
        handle_id = workflow_id_for(issue_key)

        async def send(client: Client) -> CommandResult:
            handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, handle_id)
            try:
                return await _update(handle, verb, context, text)
            except WorkflowUpdateFailedError as err:
                cause = err.cause
                return CommandResult(False, str(cause.message if hasattr(cause, "message") else cause))
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise NoRun(f"no orchestration is running for {issue_key.upper()}") from None
                raise

        return self.temporal.call(send)

    def state(self, issue_key: str) -> dict[str, Any]:
        """The run's state: ids, Temporal status, and (while it has a worker) the workflow's own state."""
        workflow_id = workflow_id_for(issue_key)

        async def read(client: Client) -> dict[str, Any]:
            handle = client.get_workflow_handle(workflow_id)
            try:
                description = await handle.describe()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise NoRun(f"no orchestration exists for {issue_key.upper()}") from None
                raise
            state = await handle.query(OrchestrationWorkflow.get_status)
            temporal_status = description.status or WorkflowExecutionStatus.RUNNING
            return {
                "workflow_id": workflow_id,
                "run_id": description.run_id,
                "temporal_status": temporal_status.name,
                **asdict(state),
            }

        return self.temporal.call(read)


async def _update(
    handle: WorkflowHandle[OrchestrationWorkflow, Any], verb: str, context: CommandContext, text: str
) -> CommandResult:
    """One typed update call per verb."""
    match verb:
        case "approve":
            return await handle.execute_update(OrchestrationWorkflow.request_approve, ApproveInput(context, notes=text))
        case "reject":
            return await handle.execute_update(
                OrchestrationWorkflow.request_reject, RejectInput(context, feedback=text)
            )
        case "pause":
            return await handle.execute_update(OrchestrationWorkflow.request_pause, PauseInput(context))
        case "resume":
            return await handle.execute_update(OrchestrationWorkflow.request_resume, ResumeInput(context))
        case "cancel":
            return await handle.execute_update(OrchestrationWorkflow.request_cancel, CancelInput(context, reason=text))
        case _:
            phase = text.strip().upper() or None
            return await handle.execute_update(OrchestrationWorkflow.request_retry, RetryInput(context, phase=phase))
