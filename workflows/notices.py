"""Telling people: the mentions that make Jira notify the starter and the approvers, and the chat notification.

Events (NOTIFY_EVENTS): `gate` (a gate is waiting), `completed`, `failed` (the run is blocked or ended failed) and
`gate_timeout` (a gate times out in a day). For each, the comment the run posts anyway mentions the people
NOTIFY_MENTION names (the starter; at gates also the approvers: the account ids in ORCHESTRATOR_APPROVERS and
whoever decided at an earlier gate of this run), and the chat webhook gets one message. Runs from before these
settings have an empty policy and notify nobody.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.ids import is_account_id
from workflows.messages import Source
from workflows.notifier import Notifier
from workflows.run_base import RunBase

# Events whose mentions include the approvers (someone must act), not only the starter.
ASKS_APPROVERS = frozenset({"gate", "gate_timeout"})


class RunNotices(RunBase):
    """Mentions and chat notifications of `OrchestrationWorkflow` (a mixin)."""

    notifier: Notifier

    def _mentions(self, event: str) -> str:
        """` cc [~accountid:…] …` for the people this event concerns, or "" (none configured, or none known)."""
        policy = self.input.notify
        if event not in policy.events:
            return ""
        people: list[str] = []
        starter = self.input.started_by
        if "starter" in policy.mention and starter and self.input.source not in (Source.CLI, Source.API):
            people.append(starter)
        if "approvers" in policy.mention and event in ASKS_APPROVERS:
            people += policy.approvers
            people += [a.actor for a in self.state.approvals if a.source in (Source.COMMENT, Source.TRANSITION)]
        named = [p for p in dict.fromkeys(people) if is_account_id(p)]
        return ("\ncc " + " ".join(f"[~accountid:{p}]" for p in named)) if named else ""

    def _notify(self, event: str, key: str, text: str) -> None:
        """Post `text` to the chat webhook once for this run's `key`, if the policy asks for `event`."""
        policy = self.input.notify
        if not policy.webhook or event not in policy.events or not workflow.patched("notify-webhook"):
            return
        link = self.memory.links.get("Dashboard")
        self.notifier.send(event, key, self.input.issue_key, f"{self.input.issue_key}: {text}", link)
