"""What callers send to `OrchestrationWorkflow` (the webhook, the CLI, the HTTP API) and what they get back.

Two paths reach the workflow:
- Signals (`approve`, `reject`, `pause`, `resume`, `cancel`, `retry`, `status`): the webhook's fire-and-forget
  path. The workflow checks that the actor may steer the issue (an activity) and answers on the issue itself:
  accepted, refused naming who may approve, or "nothing to approve".
- Updates (`request_<verb>`): the CLI/API path, where the caller must learn at once whether the command was
  accepted. A validator rejects a command that does not fit the run's state before anything is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PHASES = ("EXPLORE", "PLAN", "CODE", "TEST", "FIX", "DOCUMENT")
DEFAULT_GATES = ("EXPLORE", "PLAN")
SEVEN_DAYS = 7 * 24 * 3600


class Source(StrEnum):
    """Where a start or command came from."""

    COMMENT = "comment"
    TRANSITION = "transition"
    LABEL = "label"
    CREATED = "created"
    CLI = "cli"
    API = "api"
    CONSOLE = "console"
    RECONCILE = "reconcile"


class RunStatus(StrEnum):
    """The run's status as the state query reports it."""

    STARTING = "starting"
    RUNNING = "running"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JiraStatuses:
    """Status names (and the fallback label) the run moves the issue through; from settings, by name."""

    in_progress: str | None = "In Progress"
    done: str | None = "Done"
    blocked: str = "Blocked"
    blocked_label: str = "ai-blocked"


@dataclass(frozen=True)
class NotifyPolicy:
    """Who hears about a run and how (NOTIFY_EVENTS, NOTIFY_MENTION, NOTIFY_WEBHOOK_URL): empty for runs from before."""

    events: list[str] = field(default_factory=list)  # gate, completed, failed, gate_timeout
    mention: list[str] = field(default_factory=list)  # starter, approvers: mentioned on the issue (Jira notifies them)
    webhook: bool = False  # whether the worker posts each event to the chat webhook (its URL stays in the worker)
    approvers: list[str] = field(default_factory=list)  # approvers' account ids, mentioned at gates


@dataclass(frozen=True)
class RunLimits:
    """What bounds a run's history (issue 13 finding 9); 0 turns a limit off, as for runs started before it existed.

    `max_rejects`: rejections per phase (ORCHESTRATOR_MAX_REJECTS); `max_retries`: `/retry`s per run
    (ORCHESTRATOR_MAX_RETRIES); `refusal_quiet_seconds`: a person refused is answered once, then ignored (counted)
    for this long (ORCHESTRATOR_REFUSAL_QUIET); `history_events`: continue as new at the next phase boundary past
    this many history events (ORCHESTRATOR_CONTINUE_AS_NEW_EVENTS), besides when Temporal suggests it.
    """

    max_rejects: int = 0
    max_retries: int = 0
    refusal_quiet_seconds: int = 0
    history_events: int = 0


@dataclass(frozen=True)
class OrchestrationInput:
    """Start an issue's orchestration (`orchestration-<KEY>`)."""

    issue_key: str
    project_key: str
    started_by: str | None = None
    source: Source = Source.LABEL
    auto_proceed: bool = False
    gates: list[str] = field(default_factory=lambda: list(DEFAULT_GATES))
    gate_timeout_seconds: int = SEVEN_DAYS
    delivery_id: str | None = None
    statuses: JiraStatuses = field(default_factory=JiraStatuses)
    agent_start_to_close_seconds: int = 2 * 3600
    agent_heartbeat_seconds: int = 5 * 60
    # False where the Temporal namespace has not registered the Orchestration* search attributes.
    index_search_attributes: bool = True
    # Show the run's state as one label (ai-running, ai-needs-approval, the blocked label, ai-done). Off for runs
    # started before the setting existed: their input has no such field.
    board_labels: bool = False
    notify: NotifyPolicy = field(default_factory=NotifyPolicy)
    limits: RunLimits = field(default_factory=RunLimits)
    # Set only by the run itself when it continues as new: a `ContinuedRun` (workflows/run_base.py) as its fields,
    # since this module sits below the state it carries.
    continued: dict[str, Any] | None = None
    # FORGE is set: a completed run opens (or updates) the pull request of jira/<KEY>. Off for runs from before.
    forge: bool = False
    # Fewer Temporal actions for the same work: one activity queues a job (and its end dispatches the next), one
    # records a phase's end, search attributes are sent only when they change. Off for runs from before (their input
    # has no such field), so their histories replay; a flag in the input, not `workflow.patched`, because Temporal
    # bills each patch as a marker and a search-attribute upsert in every run.
    lean: bool = False


@dataclass(frozen=True)
class CommandContext:
    """Who sent a command and through which delivery; `trusted` skips the approver check (CLI/API operators)."""

    actor: str
    delivery_id: str = ""
    comment_id: str | None = None
    source: Source = Source.COMMENT
    trusted: bool = False


@dataclass(frozen=True)
class ApproveInput:
    """`/approve [notes]` (alias `/proceed`), or a transition into the approve status."""

    context: CommandContext
    notes: str = ""


@dataclass(frozen=True)
class RejectInput:
    """`/reject <feedback>`: redo the phase at the gate with this feedback."""

    context: CommandContext
    feedback: str = ""


@dataclass(frozen=True)
class PauseInput:
    """`/pause`: stop before the next phase starts (a running job is not pre-empted)."""

    context: CommandContext


@dataclass(frozen=True)
class ResumeInput:
    """`/resume`: continue a paused run."""

    context: CommandContext


@dataclass(frozen=True)
class CancelInput:
    """`/cancel`: cancel the running agent job and end the run."""

    context: CommandContext
    reason: str = ""


@dataclass(frozen=True)
class RetryInput:
    """`/retry [PHASE]`: on a failed or blocked run, run PHASE (default: the failed one) again."""

    context: CommandContext
    phase: str | None = None


@dataclass(frozen=True)
class StatusInput:
    """`/status`: answer on the issue with the run's state."""

    context: CommandContext


@dataclass(frozen=True)
class CommandInput:
    """A command that needs only who sent it and its text (`/explain`); verbs added later use it too."""

    context: CommandContext
    text: str = ""


@dataclass(frozen=True)
class CommandResult:
    """The answer to an update: accepted or not, and what was done, in one sentence."""

    accepted: bool
    message: str
