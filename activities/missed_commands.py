"""The reconciliation sweep's recovery of commands the webhook never delivered (the web was down): comment
commands, and moves into the approve status.

Only live runs can take a command, so the sweep reads the database's live runs, asks Jira (JQL on `updated`)
which of their issues changed within RECONCILE_LOOKBACK, and reads those issues' comments back through the
gateway. A comment written after its run started, by someone other than the bot, whose first line is a
command, is sent to the run as the webhook would have sent it (untrusted: the workflow checks who wrote it and
answers on the issue). Each comment acts once, whoever sees it first: the sweep claims it in the webhook
delivery store by its comment id (unique), the same key the webhook claims, so a late webhook delivery of that
comment is a repeat, and a comment the webhook already acted on is skipped.

A move into ORCHESTRATOR_APPROVE_STATUS has no such key: the webhook's delivery and the changelog share no id.
So the sweep approves only for a run still waiting at a gate that began before the move (the run's own state,
queried), and only once
the move is older than JIRA_WEBHOOK_MAX_AGE, when no delivery of it can act any more (the web refuses events
that old); the changelog entry's id, claimed in the delivery store, makes the sweep itself act once. Recovered
approvals therefore come late (after JIRA_WEBHOOK_MAX_AGE, 2 h by default); with the age check off (0s) they
are not recovered at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from activities.reconcile import IssueSearch
from app.jira_gateway.errors import ValidationError
from app.jira_gateway.models import Comment, StatusMove
from app.jira_gateway.timestamps import parse_jira_time
from app.store.live_runs import is_live
from app.store.models import Orchestration, WebhookDelivery, utcnow
from workflows.ids import is_issue_key
from workflows.messages import CommandContext, Source

MAX_ISSUES = 100  # live runs looked at per sweep (the most recently updated first)
RECOVERED = "reconciled"


class CommentReader(IssueSearch, Protocol):
    """The Jira calls the sweep needs (app.jira_gateway.JiraGateway has them)."""

    def list_comments(self, issue_key: str) -> list[Comment]:
        """Every comment of the issue, oldest first."""
        ...

    def bot_account_id(self) -> str:
        """The bot's own account id."""
        ...

    def status_moves(self, issue_key: str) -> list[StatusMove]:
        """The issue's recent status changes, oldest first."""
        ...


@dataclass(frozen=True)
class ParsedCommand:
    """A command verb of the command table, its text and first argument (webhooks/commands.py reads them)."""

    verb: str
    text: str = ""
    argument: str | None = None


# The comment grammar (webhooks/commands.py `parse_command`, handed over by the registry): body, bot id → command.
ReadCommand = Callable[[str, str], ParsedCommand | None]
# When the gate the issue's run waits at began (the gated phase's end, from the run's state); None: no gate waits.
GateSince = Callable[[str], Awaitable[datetime | None]]
# Sends the verb's signal to the issue's run (app/temporal/control.py `signal`, via the registry); raises
# LookupError when no run is running.
SendCommand = Callable[[str, str, CommandContext, str, str | None], Awaitable[None]]


@dataclass(frozen=True)
class ApproveMoves:
    """How far back to look, and when a move into the approve status may be acted on (see the module docstring)."""

    lookback: timedelta
    approve_status: str | None = None
    settle_after: timedelta = timedelta(0)  # JIRA_WEBHOOK_MAX_AGE; zero: moves are not recovered


@dataclass(frozen=True)
class MissedQuery:
    """At most `limit` live runs' issues per sweep."""

    limit: int = MAX_ISSUES


@dataclass(frozen=True)
class MissedCommand:
    """A command no webhook delivered: a comment's (`comment_id`), or a move into the approve status (`history_id`)."""

    issue_key: str
    actor: str
    verb: str
    text: str = ""
    argument: str | None = None
    comment_id: str | None = None
    history_id: str | None = None
    moved_at: str = ""  # for a move: when (ISO 8601), to compare with the start of the gate it would approve

    @property
    def delivery_id(self) -> str:
        """The delivery id the recovered command travels under (and is claimed by, once)."""
        if self.comment_id is not None:
            return f"reconcile-comment-{self.comment_id}"
        return f"reconcile-transition-{self.issue_key}-{self.history_id}"

    @property
    def source(self) -> Source:
        """How the person gave the command."""
        return Source.COMMENT if self.comment_id is not None else Source.TRANSITION


@dataclass(frozen=True)
class MissedCommands:
    """Commands to send."""

    commands: list[MissedCommand] = field(default_factory=list)


def updated_jql(issue_keys: list[str], lookback: timedelta) -> str:
    """Of these issues, those changed within `lookback` (keys are checked: ticket text never reaches JQL)."""
    keys = ", ".join(key for key in issue_keys if is_issue_key(key))
    minutes = max(1, int(lookback.total_seconds() // 60))
    return f'key in ({keys}) AND updated >= "-{minutes}m" ORDER BY updated ASC'


class MissedCommandActivities:
    """Finds command comments no webhook delivered (database + Jira) and sends them to their runs (Temporal)."""

    def __init__(
        self,
        jira: CommentReader,
        session_factory: sessionmaker[Session],
        moves: ApproveMoves,
        read_command: ReadCommand,
        send_command: SendCommand,
        gate_since: GateSince,
    ) -> None:
        self.jira = jira
        self.session_factory = session_factory
        self.moves = moves
        self.lookback = moves.lookback
        self.read_command = read_command
        self.send_command = send_command
        self.gate_since = gate_since

    @activity.defn
    def find_missed_commands(self, query: MissedQuery) -> MissedCommands:
        """Commands on live runs' recently updated issues that no delivery (or sweep) acted on."""
        now = utcnow()
        since = now - self.lookback
        with self.session_factory() as session:
            rows = session.execute(
                select(Orchestration.issue_key, Orchestration.created_at)
                .where(is_live())
                .order_by(Orchestration.updated_at.desc())
                .limit(query.limit)
            ).all()
        runs = {row.issue_key: row for row in reversed(rows)}  # the latest run of an issue wins
        if not runs:
            return MissedCommands()
        updated = self._recently_updated(sorted(runs))
        bot = self.jira.bot_account_id()
        found = []
        for key in dict.fromkeys(k.upper() for k in updated):
            run = runs.get(key)
            if run is None:
                continue
            started = max(run.created_at, since)
            found += self._commands_on(key, started, bot)
            found += self._approve_moves_on(key, started, now, bot)
        if not found:
            return MissedCommands()
        with self.session_factory() as session:
            comments = [command.comment_id for command in found if command.comment_id]
            ids = [command.delivery_id for command in found]
            acted = set(
                session.scalars(select(WebhookDelivery.comment_id).where(WebhookDelivery.comment_id.in_(comments)))
            )
            acted |= set(
                session.scalars(select(WebhookDelivery.delivery_id).where(WebhookDelivery.delivery_id.in_(ids)))
            )
        return MissedCommands([c for c in found if c.comment_id not in acted and c.delivery_id not in acted])

    @activity.defn
    async def send_missed_commands(self, missed: MissedCommands) -> list[str]:
        """Claim each command by its comment id and send it; returns `KEY /verb` of each sent."""
        sent = []
        for command in missed.commands:
            if command.history_id is not None and not await self._approves_the_waiting_gate(command):
                continue
            if not await asyncio.to_thread(self._claim, command):
                continue  # a webhook delivery (or an earlier attempt) has it
            context = CommandContext(
                actor=command.actor,
                delivery_id=command.delivery_id,
                comment_id=command.comment_id,
                source=command.source,
                trusted=False,  # the workflow checks the person may steer, as for a delivered event
            )
            try:
                await self.send_command(command.issue_key, command.verb, context, command.text, command.argument)
            except LookupError:
                continue  # the run ended meanwhile: nothing to steer (the claim stays: do not try again)
            except BaseException:
                await asyncio.to_thread(self._release, command)  # not sent: the retry (or the webhook) may
                raise
            sent.append(f"{command.issue_key} /{command.verb}")
        if sent:
            activity.logger.warning("reconcile.commands sent=%s (written while no webhook reached us)", sent)
        return sent

    def _recently_updated(self, keys: list[str]) -> list[str]:
        try:
            return self.jira.search_issue_keys(updated_jql(keys, self.lookback))
        except ValidationError:
            # Jira refuses the whole query when one key no longer exists (deleted, moved): ask per issue instead.
            updated = []
            for key in keys:
                with contextlib.suppress(ValidationError):
                    updated += self.jira.search_issue_keys(updated_jql([key], self.lookback))
            return updated

    def _commands_on(self, issue_key: str, since: datetime, bot: str) -> list[MissedCommand]:
        commands = []
        for comment in self.jira.list_comments(issue_key):
            written = parse_jira_time(comment.created)
            if not comment.author or comment.author == bot or written is None or written < since:
                continue
            parsed = self.read_command(comment.body, bot)
            if parsed is not None:
                commands.append(
                    MissedCommand(
                        issue_key, comment.author, parsed.verb, parsed.text, parsed.argument, comment_id=comment.id
                    )
                )
        return commands

    async def _approves_the_waiting_gate(self, command: MissedCommand) -> bool:
        # A move made before the gate began was for an earlier gate (acted on, or not): it never approves this one.
        since = await self.gate_since(command.issue_key)
        return since is not None and datetime.fromisoformat(command.moved_at) > since

    def _approve_moves_on(self, issue_key: str, since: datetime, now: datetime, bot: str) -> list[MissedCommand]:
        moves = self.moves
        if moves.approve_status is None or moves.settle_after == timedelta(0):
            return []
        found = []
        for move in self.jira.status_moves(issue_key):
            moved = parse_jira_time(move.created)
            if (
                move.to_status.casefold() != moves.approve_status.casefold()
                or not move.author
                or move.author == bot
                or moved is None
                or moved < since
                or moved > now - moves.settle_after  # a delivery of it may still come and act
            ):
                continue
            found.append(
                MissedCommand(issue_key, move.author, "approve", history_id=move.history_id, moved_at=moved.isoformat())
            )
        return found[-1:]  # one approval per gate: the latest move

    def _claim(self, command: MissedCommand) -> bool:
        row = WebhookDelivery(
            delivery_id=command.delivery_id,
            comment_id=command.comment_id,
            webhook_event="comment_created" if command.comment_id else "jira:issue_updated",
            issue_key=command.issue_key,
            outcome=RECOVERED,
            detail=f"reconcile /{command.verb}",
        )
        try:
            with self.session_factory.begin() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def _release(self, command: MissedCommand) -> None:
        with self.session_factory.begin() as session:
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.delivery_id == command.delivery_id))
