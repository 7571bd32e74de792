"""Intent → exactly one typed Temporal call on the issue's `orchestration-<KEY>` workflow.

Temporal is reached only through the app's `TemporalGateway` (`current_app.extensions["temporal"]`) and
app/temporal/control.py; the Flask app itself is never imported here. A start keeps a live run and may start a
finished one again (through its check when a start policy is set: workflows/start_check.py); a command is its
verb's fire-and-forget signal, which the workflow checks (who sent it) and answers on the issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from app.temporal import control
from app.temporal.gateway import TemporalUnavailable
from webhooks.intents import CommandRequested, Intent, Origin, StartRequested, UnknownCommandWritten
from workflows.command_answer import answer_workflow_id
from workflows.ids import workflow_id_for
from workflows.messages import CommandContext

if TYPE_CHECKING:
    from app.config import Settings
    from app.temporal.gateway import TemporalGateway


@dataclass(frozen=True)
class Dispatched:
    """What was done: the action (`start` or the signal's verb), on which workflow, and the run (for starts)."""

    action: str
    workflow_id: str
    run_id: str | None = None


def dispatch(intent: Intent, delivery_id: str) -> Dispatched:
    """Make the intent's one Temporal call; raises control.NoRun, TemporalUnavailable or RPCError."""
    settings: Settings = current_app.extensions["settings"]
    temporal: TemporalGateway = current_app.extensions["temporal"]
    if not settings.temporal.enabled:
        raise TemporalUnavailable("Temporal is disabled (FEATURE_TEMPORAL_ENABLED=false)")
    origin = intent.origin
    workflow_id = workflow_id_for(origin.issue_key)
    match intent:
        case StartRequested():
            input = control.orchestration_input(settings, origin.issue_key, origin.actor, origin.source, delivery_id)
            task_queue = settings.temporal.task_queue
            if settings.starts.checked:  # who may start, and the caps, need Jira and the database: not in here
                check_id = temporal.call(lambda c: control.start_checked(c, task_queue, input, delivery_id))
                return Dispatched("start-check", check_id)
            return Dispatched("start", workflow_id, temporal.call(lambda c: control.start(c, task_queue, input)))
        case CommandRequested(verb=verb, text=text, argument=argument):
            context = _context(origin, delivery_id)
            try:
                temporal.call(lambda c: control.signal(c, origin.issue_key, verb, context, text, argument))
            except control.NoRun:
                if origin.comment_id is not None:  # a person asked in a comment: say there is no run (once)
                    _answer(temporal, settings, origin, control.no_run_answer(verb), "no-run")
                raise
            return Dispatched(verb, workflow_id)
        case UnknownCommandWritten(word=word):
            return _answer(temporal, settings, origin, control.unknown_command_answer(word), "unknown")


def _answer(temporal: TemporalGateway, settings: Settings, origin: Origin, text: str, kind: str) -> Dispatched:
    comment_id = origin.comment_id or origin.delivery_id
    task_queue = settings.temporal.task_queue
    # A flood of comments gets one answer of each kind per person per ORCHESTRATOR_REFUSAL_QUIET.
    key, quiet = f"{kind}:{origin.actor}", int(settings.limits.refusal_quiet.total_seconds())
    temporal.call(lambda c: control.answer(c, task_queue, origin.issue_key, comment_id, text, key, quiet))
    return Dispatched("answer", answer_workflow_id(origin.issue_key, comment_id))


def _context(origin: Origin, delivery_id: str) -> CommandContext:
    # trusted=False: the workflow checks that the actor may steer the issue, and refuses (and answers) if not.
    return CommandContext(
        actor=origin.actor, delivery_id=delivery_id, comment_id=origin.comment_id, source=origin.source, trusted=False
    )
