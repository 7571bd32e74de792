"""The one place that starts, signals, updates and reads our orchestration workflows, and the one command table.

Every caller comes through here: the webhook (a start, or a command as a fire-and-forget signal that the workflow
checks and answers on the issue), the CLI, HTTP API and console through app/services (a command as a validated
update, so the caller learns at once), and the reconciliation sweep (a start unless the issue ever had a run).
Sync callers reach these coroutines through `TemporalGateway.call`.

A command verb is one row of `COMMANDS`: the workflow input it sends, its signal, and its update. The comment
grammar, the API routes and the CLI sub-commands are read off this table, so a new verb is a row here, its handler
in workflows/steering.py, and a test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.workflow import UpdateMethodMultiParam

from app.config import Settings
from app.temporal.gateway import Found, not_found_is, start_once
from workflows.command_answer import AnswerInput, CommandAnswerWorkflow, answer_workflow_id
from workflows.ids import is_cloud_account_id, project_key_of, workflow_id_for
from workflows.messages import (
    ApproveInput,
    CancelInput,
    CommandContext,
    CommandInput,
    CommandResult,
    JiraStatuses,
    NotifyPolicy,
    OrchestrationInput,
    PauseInput,
    RejectInput,
    ResumeInput,
    RetryInput,
    RunLimits,
    Source,
    StatusInput,
)
from workflows.orchestration import OrchestrationWorkflow
from workflows.pull_request_closed import PullRequestClosedInput, PullRequestClosedWorkflow, pull_request_closed_id
from workflows.start_check import StartCheckInput, StartCheckWorkflow, start_check_id
from workflows.state import OrchestrationState

Orchestration = OrchestrationWorkflow


@dataclass(frozen=True)
class Command:
    """One verb: how its words become the workflow input, the signal and update that carry it, and its help."""

    make_input: Callable[[CommandContext, str, str | None], Any]  # (who, the text, its first word) → input
    signal: Callable[[Orchestration, Any], Awaitable[None]]
    update: UpdateMethodMultiParam[[Any, Any], CommandResult] | None
    help: str
    text_field: str | None = None  # the API body's field for the text (notes, feedback, ...); None: no text
    text_help: str = ""
    aliases: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {
    "approve": Command(
        lambda who, text, _: ApproveInput(who, notes=text),
        Orchestration.approve,
        Orchestration.request_approve,
        "approve the waiting gate; the notes go to the next phase",
        text_field="notes",
        text_help="notes for the next phase",
        aliases=("proceed",),
    ),
    "reject": Command(
        lambda who, text, _: RejectInput(who, feedback=text),
        Orchestration.reject,
        Orchestration.request_reject,
        "redo the phase at the gate with this feedback",
        text_field="feedback",
        text_help="feedback: what to change (required)",
    ),
    "pause": Command(
        lambda who, _, __: PauseInput(who),
        Orchestration.pause,
        Orchestration.request_pause,
        "stop before the next phase starts",
    ),
    "resume": Command(
        lambda who, _, __: ResumeInput(who),
        Orchestration.resume,
        Orchestration.request_resume,
        "continue a paused run",
    ),
    "cancel": Command(
        lambda who, text, _: CancelInput(who, reason=text),
        Orchestration.cancel,
        Orchestration.request_cancel,
        "cancel the running agent job and end the run",
        text_field="reason",
        text_help="reason",
    ),
    "retry": Command(
        lambda who, _, word: RetryInput(who, phase=word),
        Orchestration.retry,
        Orchestration.request_retry,
        "run a failed phase again",
        text_field="phase",
        text_help="phase to restart from (default: the failed one)",
    ),
    "status": Command(
        lambda who, _, __: StatusInput(who),
        Orchestration.status,
        None,
        "answer on the issue with the run's state",
    ),
    "explain": Command(
        lambda who, _, __: CommandInput(who),
        Orchestration.explain,
        Orchestration.request_explain,
        "say what the run is waiting for, and what would move it on",
    ),
}
# Words a person may type for a verb (the verb itself and its aliases), for the comment grammar.
COMMAND_WORDS: dict[str, str] = {word: verb for verb, command in COMMANDS.items() for word in (verb, *command.aliases)}
# The verbs with an update: what the CLI, the API and the console can send and hear back from.
UPDATE_VERBS = tuple(verb for verb, command in COMMANDS.items() if command.update is not None)


def usage() -> str:
    """The commands a person can write on the issue, as a one-line Jira wiki list (read off the table)."""
    words = []
    for verb, row in COMMANDS.items():
        argument = f" [{row.text_field}]" if row.text_field else ""
        words.append("{{/" + verb + argument + "}}")
    return " · ".join(words)


def unknown_command_answer(word: str) -> str:
    """The answer to `/<word>` when no such command exists."""
    return f"ℹ️ {{{{/{word}}}}} is not a command I know. Commands: {usage()}."


def no_run_answer(verb: str) -> str:
    """The answer to a command on an issue that has no run."""
    return (
        f"ℹ️ There is no run on this issue for {{{{/{verb}}}}}. Add the trigger label to start one; "
        f"then the commands are: {usage()}."
    )


async def answer(
    client: Client, task_queue: str, issue_key: str, comment_id: str, text: str, quiet_key: str = "", quiet: int = 0
) -> bool:
    """Answer one comment on the issue (a short workflow, so the webhook makes no Jira call); False: answered.
    Answers with the same `quiet_key` go out at most once per `quiet` seconds on the issue."""
    arg = AnswerInput(issue_key.upper(), comment_id, text, quiet_key, quiet)
    return await start_once(
        client, task_queue, CommandAnswerWorkflow.run, arg, answer_workflow_id(issue_key, comment_id)
    )


async def pull_request_closed(client: Client, task_queue: str, event: PullRequestClosedInput) -> bool:
    """Tell the issue its pull request was merged or closed (a short workflow); False: already told."""
    run = PullRequestClosedWorkflow.run
    return await start_once(client, task_queue, run, event, pull_request_closed_id(event))


class NoRun(LookupError):
    """The issue has no orchestration in Temporal (or, for a command, none that is still running)."""


@dataclass(frozen=True)
class Started:
    """The run a start led to; `created` is False when a run already existed and was kept."""

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
        project_key=project_key_of(key),
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
        board_labels=orch.board_labels,
        lean=True,
        notify=NotifyPolicy(
            events=list(settings.notify.events),
            mention=list(settings.notify.mention),
            webhook=settings.notify.webhook_url is not None,
            approvers=[a for a in orch.approvers if is_cloud_account_id(a)],
        ),
        limits=RunLimits(
            max_rejects=settings.limits.max_rejects,
            max_retries=settings.limits.max_retries,
            refusal_quiet_seconds=int(settings.limits.refusal_quiet.total_seconds()),
            history_events=settings.limits.continue_as_new_events,
        ),
        forge=settings.forge.enabled,
    )


async def start(client: Client, task_queue: str, input: OrchestrationInput) -> str | None:
    """Start `orchestration-<KEY>` in one call: a live run is kept (USE_EXISTING), a finished one started again.

    Returns the run id. A redelivered start is therefore harmless, and two racing starts make one run.
    """
    handle = await client.start_workflow(
        OrchestrationWorkflow.run,
        input,
        id=workflow_id_for(input.issue_key),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    return handle.result_run_id


async def start_checked(client: Client, task_queue: str, input: OrchestrationInput, delivery_id: str) -> str:
    """Hand a start from Jira to its check (ORCHESTRATOR_STARTERS, live-run caps), once per delivery; returns the
    check's workflow id. The check starts the run, or answers on the issue why not."""
    workflow_id = start_check_id(input.issue_key, delivery_id)
    await start_once(client, task_queue, StartCheckWorkflow.run, StartCheckInput(input, delivery_id), workflow_id)
    return workflow_id


async def start_or_find(
    client: Client, task_queue: str, input: OrchestrationInput, *, restart_finished: bool = True
) -> Started:
    """Start the issue's run, saying whether it is new: a live run is returned as it is; a finished one is started
    again, or (restart_finished=False, the reconciliation sweep) left alone."""
    workflow_id = workflow_id_for(input.issue_key)
    with not_found_is(None) as found:
        existing = await client.get_workflow_handle(workflow_id).describe()
    if found and (existing.status == WorkflowExecutionStatus.RUNNING or not restart_finished):
        return Started(workflow_id, existing.run_id, created=False)
    return Started(workflow_id, await start(client, task_queue, input) or "", created=True)


def command(verb: str) -> Command:
    """The table's row for `verb`; ValueError naming the verbs there are."""
    try:
        return COMMANDS[verb]
    except KeyError:
        raise ValueError(f"unknown command {verb!r}; expected one of {', '.join(COMMANDS)}") from None


async def signal(
    client: Client, issue_key: str, verb: str, context: CommandContext, text: str = "", word: str | None = None
) -> None:
    """Send the verb's signal to the issue's latest run (the webhook path); NoRun when none is running."""
    row = command(verb)
    handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id_for(issue_key))
    with _no_run(f"no run for {workflow_id_for(issue_key)}"):
        await handle.signal(row.signal, row.make_input(context, text, word))


async def update(
    client: Client, issue_key: str, verb: str, context: CommandContext, text: str = "", word: str | None = None
) -> CommandResult:
    """Send the verb's update and return the run's answer; a command the run's state refuses is not accepted."""
    row = command(verb)
    if row.update is None:
        raise ValueError(f"/{verb} has no update; expected one of {', '.join(UPDATE_VERBS)}")
    handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id_for(issue_key))
    with _no_run(f"no orchestration is running for {issue_key.upper()}"):
        try:
            return await handle.execute_update(row.update, row.make_input(context, text, word))
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            return CommandResult(False, str(cause.message if hasattr(cause, "message") else cause))


@dataclass(frozen=True)
class RunView:
    """The issue's latest run as Temporal describes it, and the workflow's own state."""

    workflow_id: str
    run_id: str
    temporal_status: str
    state: OrchestrationState


async def read(client: Client, issue_key: str) -> RunView:
    """Describe the issue's latest run and query its state; NoRun when Temporal has none."""
    workflow_id = workflow_id_for(issue_key)
    handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id)
    with _no_run(f"no orchestration exists for {issue_key.upper()}"):
        description = await handle.describe()
    state = await handle.query(OrchestrationWorkflow.get_status)
    status = description.status or WorkflowExecutionStatus.RUNNING
    return RunView(workflow_id, description.run_id, status.name, state)


def _no_run(message: str) -> AbstractContextManager[Found]:
    return not_found_is(NoRun(message))
