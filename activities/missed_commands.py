"""The reconciliation sweep's recovery of comment commands the webhook never delivered (the web was down).

Only live runs can take a command, so the sweep reads the database's live runs, asks Jira (JQL on `updated`)
which of their issues changed within RECONCILE_LOOKBACK, and reads those issues' comments back through the
gateway. A comment written after its run started, by someone other than the bot, whose first line is a
command, is sent to the run as the webhook would have sent it (untrusted: the workflow checks who wrote it and
answers on the issue).

Each comment acts once, whoever sees it first: the sweep claims it in the webhook delivery store by its comment
id (unique), the same key the webhook claims, so a late webhook delivery of that comment is a repeat, and a
comment the webhook already acted on is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from app.jira_gateway.models import Comment
from app.jira_gateway.timestamps import parse_jira_time
from app.store.live_runs import is_live
from app.store.models import Orchestration, WebhookDelivery, utcnow
from workflows.ids import is_issue_key
from workflows.messages import CommandContext, Source

MAX_ISSUES = 100  # live runs looked at per sweep (the most recently updated first)
RECOVERED = "reconciled"


class CommentReader(Protocol):
    """The Jira calls the recovery needs (app.jira_gateway.JiraGateway has them)."""

    def search_issue_keys(self, jql: str) -> list[str]:
        """Keys of every issue matching the JQL."""
        ...

    def list_comments(self, issue_key: str) -> list[Comment]:
        """Every comment of the issue, oldest first."""
        ...

    def bot_account_id(self) -> str:
        """The bot's own account id."""
        ...


@dataclass(frozen=True)
class ParsedCommand:
    """A command verb of the command table, its text and first argument (webhooks/commands.py reads them)."""

    verb: str
    text: str = ""
    argument: str | None = None


# The comment grammar (webhooks/commands.py `parse_command`, handed over by the registry): body, bot id → command.
ReadCommand = Callable[[str, str], ParsedCommand | None]
# Sends the verb's signal to the issue's run (app/temporal/control.py `signal`, via the registry); raises
# LookupError when no run is running.
SendCommand = Callable[[str, str, CommandContext, str, str | None], Awaitable[None]]


@dataclass(frozen=True)
class MissedQuery:
    """At most `limit` live runs' issues per sweep."""

    limit: int = MAX_ISSUES


@dataclass(frozen=True)
class MissedCommand:
    """A command comment no webhook delivered."""

    issue_key: str
    comment_id: str
    actor: str
    verb: str
    text: str = ""
    argument: str | None = None

    @property
    def delivery_id(self) -> str:
        """The delivery id the recovered command travels under (the workflow ignores one it has seen)."""
        return f"reconcile-comment-{self.comment_id}"


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
        lookback: timedelta,
        read_command: ReadCommand,
        send_command: SendCommand,
    ) -> None:
        self.jira = jira
        self.session_factory = session_factory
        self.lookback = lookback
        self.read_command = read_command
        self.send_command = send_command

    @activity.defn
    def find_missed_commands(self, query: MissedQuery) -> MissedCommands:
        """Command comments on live runs' recently updated issues that no delivery (or sweep) acted on."""
        since = utcnow() - self.lookback
        with self.session_factory() as session:
            rows = session.execute(
                select(Orchestration.issue_key, Orchestration.created_at)
                .where(is_live())
                .order_by(Orchestration.updated_at.desc())
                .limit(query.limit)
            ).all()
        started = {key: max(created, since) for key, created in reversed(rows)}  # the latest run's start wins
        if not started:
            return MissedCommands()
        updated = self.jira.search_issue_keys(updated_jql(sorted(started), self.lookback))
        bot = self.jira.bot_account_id()
        found = []
        for key in dict.fromkeys(k.upper() for k in updated):
            if key in started:
                found += self._commands_on(key, started[key], bot)
        if not found:
            return MissedCommands()
        with self.session_factory() as session:
            ids = [command.comment_id for command in found]
            acted = set(session.scalars(select(WebhookDelivery.comment_id).where(WebhookDelivery.comment_id.in_(ids))))
        return MissedCommands([command for command in found if command.comment_id not in acted])

    @activity.defn
    async def send_missed_commands(self, missed: MissedCommands) -> list[str]:
        """Claim each command by its comment id and send it; returns `KEY /verb` of each sent."""
        sent = []
        for command in missed.commands:
            if not await asyncio.to_thread(self._claim, command):
                continue  # a webhook delivery (or an earlier attempt) has it
            context = CommandContext(
                actor=command.actor,
                delivery_id=command.delivery_id,
                comment_id=command.comment_id,
                source=Source.COMMENT,
                trusted=False,  # the workflow checks the author may steer, as for a delivered comment
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

    def _commands_on(self, issue_key: str, since: datetime, bot: str) -> list[MissedCommand]:
        commands = []
        for comment in self.jira.list_comments(issue_key):
            written = parse_jira_time(comment.created)
            if not comment.author or comment.author == bot or written is None or written < since:
                continue
            parsed = self.read_command(comment.body, bot)
            if parsed is not None:
                commands.append(
                    MissedCommand(issue_key, comment.id, comment.author, parsed.verb, parsed.text, parsed.argument)
                )
        return commands

    def _claim(self, command: MissedCommand) -> bool:
        row = WebhookDelivery(
            delivery_id=command.delivery_id,
            comment_id=command.comment_id,
            webhook_event="comment_created",
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
