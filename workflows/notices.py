"""Telling people: the mentions that make Jira notify the starter and the approvers, and the chat notification.

Events (NOTIFY_EVENTS): `gate` (a gate is waiting), `completed`, `failed` (the run is blocked or ended failed) and
`gate_timeout` (a gate times out in a day). For each, the comment the run posts anyway mentions the people
NOTIFY_MENTION names (the starter; at gates also the approvers: the account ids in ORCHESTRATOR_APPROVERS and
whoever decided at an earlier gate of this run), and the chat webhook gets one message; `_wait_at_gate` waits
for a gate's answer and sends the reminder. Runs from before these settings have an empty policy and notify
nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

from workflows.ids import is_account_id
from workflows.messages import Source
from workflows.notifier import Notifier
from workflows.report import GATE_COMMANDS
from workflows.run_base import RunBase
from workflows.versions import released

# Events whose mentions include the approvers (someone must act), not only the starter.
ASKS_APPROVERS = frozenset({"gate", "gate_timeout"})
# A gate that is about to time out reminds the people it needs this long before (NOTIFY_EVENTS gate_timeout).
REMIND_BEFORE = timedelta(days=1)


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
        if not policy.webhook or event not in policy.events or not released("notify-webhook", self.input.lean):
            return
        link = self.memory.links.get("Dashboard")
        self.notifier.send(event, key, self.input.issue_key, f"{self.input.issue_key}: {text}", link)

    async def _wait_at_gate(self, phase: str, key: str, answered: Callable[[], bool]) -> None:
        """Wait for the gate's answer until it times out (TimeoutError); a day before, remind the people it needs."""
        timeout = timedelta(seconds=self.input.gate_timeout_seconds)
        summary = f"gate after {phase}"
        remind = "gate_timeout" in self.input.notify.events and timeout > 2 * REMIND_BEFORE
        if not remind or not released("gate-timeout-reminder", self.input.lean):
            await workflow.wait_condition(answered, timeout=timeout, timeout_summary=summary)
            return
        try:
            await workflow.wait_condition(answered, timeout=timeout - REMIND_BEFORE, timeout_summary=summary)
            return
        except TimeoutError:
            pass
        ends = (workflow.now() + REMIND_BEFORE).strftime("%Y-%m-%d %H:%M UTC")
        self.reporter.comment(
            f"{key}-reminder",
            f"⏰ The gate after *{phase}* is still waiting and times out in one day ({ends}); then the run ends. "
            f"Reply with {GATE_COMMANDS}." + self._mentions("gate_timeout"),
        )
        self._notify("gate_timeout", f"{key}-reminder", f"the gate after {phase} times out in one day ({ends}).")
        await workflow.wait_condition(answered, timeout=REMIND_BEFORE, timeout_summary=summary)
