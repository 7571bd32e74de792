"""The start check's activities: may this person start a run on this issue now (Jira groups + database), and start it.

A start from Jira (the trigger label, the trigger status, the reconciliation sweep) is checked when
ORCHESTRATOR_STARTERS or a live-run cap is set: the starter must be listed by account id or be in a listed group
(by id), and the project and the person must be under ORCHESTRATOR_MAX_RUNS_PER_PROJECT / _PER_PERSON live runs.
An issue that already has a live run passes (the start then keeps that run and starts nothing). Operators
(CLI, HTTP API) are not checked. The caps count the runs the database has recorded: two starts in the same
second may both pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from app.config.starts import StartSettings
from app.store.live_runs import count_live_issues, has_live_run
from workflows.ids import is_account_id
from workflows.messages import OrchestrationInput


class GroupLookup(Protocol):
    """The one Jira call the check needs (app.jira_gateway.JiraGateway has it)."""

    def group_ids(self, account_id: str) -> tuple[str, ...]:
        """The ids of the account's groups."""
        ...


class RunStarted(Protocol):
    """What a start says (app/temporal/control.py's Started): the run, and whether it was started now."""

    @property
    def workflow_id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def created(self) -> bool: ...


@dataclass(frozen=True)
class StartCheck:
    """Who asks to start a run on which issue (None: not known, e.g. a label found by the sweep)."""

    issue_key: str
    project_key: str
    starter: str | None


@dataclass(frozen=True)
class StartDecision:
    """Whether the start may go ahead, and (when not) the sentence that says why on the issue."""

    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class StartedRun:
    """The orchestration a checked start led to; `created` is False when a run already existed and was kept."""

    workflow_id: str
    run_id: str
    created: bool


# Starts (or finds the live) run of the issue (app/temporal/control.py's start_or_find, via the registry).
StartRun = Callable[[OrchestrationInput], Awaitable[RunStarted]]


class StartPolicy:
    """Applies StartSettings with a Jira group lookup and the database's live runs."""

    def __init__(self, groups: GroupLookup, session_factory: sessionmaker[Session], settings: StartSettings) -> None:
        self.groups = groups
        self.session_factory = session_factory
        self.settings = settings

    def decide(self, check: StartCheck) -> StartDecision:
        """Allowed, or refused with the reason (starter not listed, project or person at its cap)."""
        policy = self.settings
        with self.session_factory() as session:
            if has_live_run(session, check.issue_key):
                return StartDecision(True, "the issue already has a live run")
        # The group lookup is a Jira call: made outside any database transaction.
        if policy.starters and not self._listed(check.starter):
            return StartDecision(False, f"{_who(check.starter)} may not start runs (ORCHESTRATOR_STARTERS)")
        with self.session_factory() as session:
            cap = policy.max_runs_per_project
            if cap is not None and count_live_issues(session, project_key=check.project_key) >= cap:
                return StartDecision(
                    False, f"{check.project_key} already has {cap} live runs (ORCHESTRATOR_MAX_RUNS_PER_PROJECT)"
                )
            cap = policy.max_runs_per_person
            if cap is not None and check.starter and count_live_issues(session, started_by=check.starter) >= cap:
                return StartDecision(
                    False, f"{_who(check.starter)} already has {cap} live runs (ORCHESTRATOR_MAX_RUNS_PER_PERSON)"
                )
        return StartDecision(True)

    def _listed(self, starter: str | None) -> bool:
        if not starter:
            return False
        listed = set(self.settings.starters)
        return starter in listed or any(group in listed for group in self.groups.group_ids(starter))


def refusal_text(decision: StartDecision) -> str:
    """The one comment a refused start leaves on the issue."""
    return (
        f"⛔ No run was started: {decision.reason}. Add the trigger label (or move the issue to the trigger "
        "status) again when that has changed, or ask an operator ({{orchestrator start}})."
    )


def _who(starter: str | None) -> str:
    if starter and is_account_id(starter):
        return f"[~accountid:{starter}]"
    return "the person who asked (unknown)"


class StartActivities:
    """Checks a start (Jira + database) and starts the orchestration (Temporal)."""

    def __init__(self, policy: StartPolicy, start_run: StartRun) -> None:
        self.policy = policy
        self.start_run = start_run

    @activity.defn
    def check_start(self, check: StartCheck) -> StartDecision:
        """May `check.starter` start a run on the issue now? (the rules in this module's docstring)."""
        return self.policy.decide(check)

    @activity.defn
    async def start_checked_orchestration(self, input: OrchestrationInput) -> StartedRun:
        """Start the issue's orchestration (a live one is kept)."""
        started = await self.start_run(input)
        return StartedRun(started.workflow_id, started.run_id, started.created)
