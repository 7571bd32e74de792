"""The reconciliation sweep's activities: labelled issues without an orchestration, and starting them.

Jira stops delivering webhooks to an endpoint that keeps failing and never retries a 4xx, so a trigger label
added while we were down may never reach us. The sweep asks Jira (JQL) for issues carrying the label and starts
those that have no orchestration, neither in our database nor in Temporal; issues in the trigger status
(ORCHESTRATOR_TRIGGER_STATUS) likewise. With a start policy (activities/starts.py) each start is checked first,
the starter being whoever last added the label or moved the issue into the trigger status (the issue's
changelog): a refused issue is not started (the webhook, had it come, would have said why on the issue), and a
project at its live-run cap is started by a later sweep once there is room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.starts import RunStarted, StartCheck, StartPolicy
from app.config import Settings
from app.jira_gateway.errors import ValidationError
from app.store.models import Orchestration
from workflows.ids import project_key_of

MAX_STARTS = 50  # per sweep: a flood of labels is started over a few sweeps, not all at once


class IssueSearch(Protocol):
    """The one Jira call the sweep needs (app.jira_gateway.JiraGateway has it)."""

    def search_issue_keys(self, jql: str) -> list[str]:
        """Keys of every issue matching the JQL."""
        ...

    def trigger_author(self, issue_key: str, label: str, status: str | None) -> str | None:
        """Who last added the trigger label or moved the issue into the trigger status."""
        ...


# Starts the issue's orchestration (started by that account, when known) unless Temporal has any run of it
# (app/temporal/control.py, via the registry).
StartUnlessEverRun = Callable[[str, str | None], Awaitable[RunStarted]]


@dataclass(frozen=True)
class ReconcileQuery:
    """At most `limit` issues per sweep."""

    limit: int = MAX_STARTS


@dataclass(frozen=True)
class StartRequest:
    """Issues to start an orchestration for."""

    issue_keys: list[str]


@dataclass(frozen=True)
class StartOutcome:
    """Whether the issue's orchestration was started now, or one already existed."""

    issue_key: str
    started: bool
    workflow_id: str
    run_id: str
    refused: str = ""  # why the start policy refused it (then nothing was started)


def trigger_jql(label: str, done_status: str | None) -> str:
    """Issues carrying the trigger label (and not done), oldest first."""
    return f"labels = {_quoted(label)}{_not_done(done_status)} ORDER BY created ASC"


def trigger_status_jql(status: str, done_status: str | None) -> str:
    """Issues in the trigger status (and not done), oldest first: a move into it while no webhook reached us."""
    return f"status = {_quoted(status)}{_not_done(done_status)} ORDER BY created ASC"


def _not_done(done_status: str | None) -> str:
    return f" AND status != {_quoted(done_status)}" if done_status else ""


def _quoted(value: str) -> str:
    # Settings, not ticket text, but quoted all the same: a status name may hold spaces and quotes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ReconcileActivities:
    """Finds labelled issues we never started (Jira + database) and starts them (Temporal)."""

    def __init__(
        self,
        search: IssueSearch,
        session_factory: sessionmaker[Session],
        settings: Settings,
        start_unless_ever_run: StartUnlessEverRun,
        policy: StartPolicy | None = None,
    ) -> None:
        self.search = search
        self.session_factory = session_factory
        self.settings = settings
        self.start_unless_ever_run = start_unless_ever_run
        self.policy = policy

    @activity.defn
    def find_unorchestrated_issues(self, query: ReconcileQuery) -> list[str]:
        """Labelled issues (or issues in the trigger status) of which the database has never recorded an
        orchestration (at most `limit`)."""
        orch = self.settings.orchestrator
        keys = [key.upper() for key in self.search.search_issue_keys(trigger_jql(orch.trigger_label, orch.done_status))]
        if orch.trigger_status:
            jql = trigger_status_jql(orch.trigger_status, orch.done_status)
            try:
                keys += [key.upper() for key in self.search.search_issue_keys(jql)]
            except ValidationError as err:  # no such status on the site: the labels are still swept
                activity.logger.warning("reconcile.trigger-status-unknown %s: %s", orch.trigger_status, err)
        if not keys:
            return []
        with self.session_factory() as session:
            known = set(session.scalars(select(Orchestration.issue_key).where(Orchestration.issue_key.in_(keys))))
        return [key for key in dict.fromkeys(keys) if key not in known][: query.limit]

    @activity.defn
    async def start_orchestrations(self, request: StartRequest) -> list[StartOutcome]:
        """Start each issue's orchestration unless Temporal already has one for it (running or not)."""
        outcomes = []
        for key in request.issue_keys:
            starter = None
            if self.policy is not None:
                starter = await asyncio.to_thread(self._starter, key)
                decision = await asyncio.to_thread(self.policy.decide, StartCheck(key, project_key_of(key), starter))
                if not decision.allowed:
                    activity.logger.info("reconcile.refused %s: %s", key, decision.reason)
                    outcomes.append(StartOutcome(key, False, "", "", refused=decision.reason))
                    continue
            started = await self.start_unless_ever_run(key, starter)
            outcomes.append(StartOutcome(key, started.created, started.workflow_id, started.run_id))
        return outcomes

    def _starter(self, issue_key: str) -> str | None:
        # The webhook names who added the label; the sweep asks the issue's changelog.
        orch = self.settings.orchestrator
        return self.search.trigger_author(issue_key, orch.trigger_label, orch.trigger_status)
