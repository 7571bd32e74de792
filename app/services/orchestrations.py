"""Starting, steering and reading orchestrations: the use cases the CLI, the HTTP API and the console share.

The webhook path signals (fire-and-forget); this path sends the workflow's updates, so the caller learns at once
whether a command was accepted. The operator (CLI shell, service token) is trusted; a named user is checked by
the run as a Jira commenter is. Every Temporal call
is app/temporal/control.py's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from app.config import Settings
from app.temporal import control
from app.temporal.control import Started
from app.temporal.gateway import TemporalGateway
from workflows.messages import CommandContext, CommandResult, Source
from workflows.results import figures


class OrchestrationService:
    """Sync operations on orchestrations for the CLI and the HTTP API."""

    def __init__(self, settings: Settings, temporal: TemporalGateway) -> None:
        self.settings = settings
        self.temporal = temporal

    def start(self, issue_key: str, started_by: str | None, source: Source) -> Started:
        """Start (or find the live) run of an issue."""
        input = control.orchestration_input(self.settings, issue_key, started_by, source)
        task_queue = self.settings.temporal.task_queue
        return self.temporal.call(lambda client: control.start_or_find(client, task_queue, input))

    def command(
        self,
        issue_key: str,
        verb: str,
        actor: str,
        text: str = "",
        source: Source = Source.CLI,
        trusted: bool = True,
    ) -> CommandResult:
        """Send a validated command; a command that does not fit the run's state comes back not accepted.

        `trusted=False` (a named user's account id as `actor`) has the run check them as it checks a commenter."""
        if verb not in control.UPDATE_VERBS:
            raise ValueError(f"unknown command {verb!r}; expected one of {', '.join(control.UPDATE_VERBS)}")
        context = CommandContext(actor=actor, source=source, trusted=trusted)
        # The API's and the CLI's text is the command's whole argument (a phase, for /retry).
        word = text.strip().upper() or None
        return self.temporal.call(lambda client: control.update(client, issue_key, verb, context, text, word))

    def state(self, issue_key: str) -> dict[str, Any]:
        """The run's state: ids, Temporal status, and (while it has a worker) the workflow's own state."""
        view = self.temporal.call(lambda client: control.read(client, issue_key))
        return {
            "workflow_id": view.workflow_id,
            "run_id": view.run_id,
            "temporal_status": view.temporal_status,
            **asdict(view.state),
            # Each phase's figures on one line; "untyped" where its agent reported only text (see `results`).
            "figures": {
                record.phase: figures(view.state.results.get(record.phase)) or "untyped"
                for record in view.state.phases
                if record.attempts
            },
        }
