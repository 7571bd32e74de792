"""What a Jira event asks of us: one typed `Intent`, or an explicit `Ignored(reason)`.

`JIRA_INTENT_PARSERS` maps `webhookEvent` to a pure `parse_<event>` function (Zulip's table); events in
`IGNORED_JIRA_EVENTS` and unknown events are ignored by name. The comment command grammar is in
`webhooks/commands.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from webhooks.commands import NotACommand, UnknownCommand, parse_command
from webhooks.events import FieldChange, JiraEvent, OtherEvent
from workflows.messages import Source


@dataclass(frozen=True)
class IntakeRules:
    """What the parsers compare events with: the trigger label and statuses, and the bot's own account."""

    trigger_label: str
    # Status NAMES, not ids: FACTS §1.6 says ids are more stable, but ORCHESTRATOR_*_STATUS are names (what an
    # admin types), and a name-to-id lookup would be a Jira call. The changelog's `toString` is the new name.
    trigger_status: str | None = None
    approve_status: str | None = None
    bot_account_id: str | None = None


@dataclass(frozen=True)
class Origin:
    """Where an intent came from: the issue, who caused it, and which delivery (and comment) carried it."""

    issue_key: str
    actor: str
    delivery_id: str
    source: Source
    comment_id: str | None = None


@dataclass(frozen=True)
class StartRequested:
    """Start (or keep) the issue's orchestration."""

    origin: Origin

    @property
    def name(self) -> str:
        """What the delivery store records as the intent."""
        return "start"


@dataclass(frozen=True)
class CommandRequested:
    """A command verb of the command table: from a comment's first line, or (`approve`) a move into the approve
    status. `text` is the notes, feedback or reason; `argument` its first word (a phase, for `/retry`)."""

    origin: Origin
    verb: str
    text: str = ""
    argument: str | None = None

    @property
    def name(self) -> str:
        """What the delivery store records as the intent: the verb."""
        return self.verb


@dataclass(frozen=True)
class UnknownCommandWritten:
    """A comment's first line is `/<word>` that is no command: answered with the commands there are."""

    origin: Origin
    word: str

    @property
    def name(self) -> str:
        """What the delivery store records as the intent."""
        return "unknown-command"


@dataclass(frozen=True)
class Ignored:
    """Nothing to do, and why (answered with 200 and logged at debug)."""

    reason: str


Intent = StartRequested | CommandRequested | UnknownCommandWritten
Parser = Callable[[JiraEvent, IntakeRules], Intent | Ignored]


def parse_issue_created(event: JiraEvent, rules: IntakeRules) -> Intent | Ignored:
    """An issue created with the trigger label starts a run."""
    if rules.trigger_label in event.labels:
        return StartRequested(_origin(event, Source.CREATED))
    return Ignored("created without the trigger label")


def parse_issue_updated(event: JiraEvent, rules: IntakeRules) -> Intent | Ignored:
    """Trigger label added or a move into the trigger status starts; a move into the approve status approves."""
    if event.comment is not None:
        return _parse_comment_twin(event, rules)
    added, removed = _label_changes(event.changelog)
    if rules.trigger_label in added:
        return StartRequested(_origin(event, Source.LABEL))
    new_status = _new_status(event.changelog)
    if new_status is not None and _same_status(new_status, rules.trigger_status):
        return StartRequested(_origin(event, Source.TRANSITION))
    if new_status is not None and _same_status(new_status, rules.approve_status):
        return CommandRequested(_origin(event, Source.TRANSITION), "approve")
    if rules.trigger_label in removed:
        return Ignored("trigger label removed: that does not stop a run (comment /cancel to stop it)")
    if new_status is not None:
        return Ignored("moved to a status that neither starts nor approves a run")
    return Ignored("no change we act on (only the trigger label and statuses count)")


def parse_comment_created(event: JiraEvent, rules: IntakeRules) -> Intent | Ignored:
    """A new comment whose first line is a command."""
    assert event.comment is not None  # from_payload guarantees it for comment events
    found = parse_command(event.comment.body, rules.bot_account_id)
    if isinstance(found, NotACommand):
        return Ignored(found.reason)
    origin = _origin(event, Source.COMMENT, event.comment.id)
    if isinstance(found, UnknownCommand):
        return UnknownCommandWritten(origin, found.word)
    return CommandRequested(origin, found.verb, text=found.text, argument=found.argument)


def parse_comment_updated(event: JiraEvent, rules: IntakeRules) -> Intent | Ignored:
    """An edited comment never acts: its first version was handled when it was created."""
    return Ignored("comment edits are not commands (the comment was handled when it was created)")


def _parse_comment_twin(event: JiraEvent, rules: IntakeRules) -> Intent | Ignored:
    # Adding a comment can also raise jira:issue_updated/issue_commented carrying the comment (FACTS §1.7,
    # fixture jira:issue_updated__comment_twin). It is parsed like comment_created; the delivery store's unique
    # comment id makes the second of the two act as nothing.
    if event.issue_event_type_name != "issue_commented":
        return Ignored("comment edited or deleted: not a command")
    return parse_comment_created(event, rules)


JIRA_INTENT_PARSERS: dict[str, Parser] = {
    "jira:issue_created": parse_issue_created,
    "jira:issue_updated": parse_issue_updated,
    "comment_created": parse_comment_created,
    "comment_updated": parse_comment_updated,
}

IGNORED_JIRA_EVENTS = frozenset(
    {
        "jira:issue_deleted",
        "comment_deleted",
        "worklog_created",
        "worklog_updated",
        "worklog_deleted",
        "jira:worklog_updated",
        "attachment_created",
        "attachment_deleted",
        "issuelink_created",
        "issuelink_deleted",
        "issue_property_set",
        "issue_property_deleted",
    }
)


def intent_for(event: JiraEvent | OtherEvent, rules: IntakeRules) -> Intent | Ignored:
    """The one intent of an event; our own echoes and events we do not handle are ignored with a reason."""
    if isinstance(event, OtherEvent):
        if event.webhook_event in IGNORED_JIRA_EVENTS:
            return Ignored(f"{event.webhook_event} events are not acted on")
        return Ignored(f"unhandled event {event.webhook_event}")
    if rules.bot_account_id is not None and event.actor_account_id == rules.bot_account_id:
        return Ignored("caused by the bot's own account")
    return JIRA_INTENT_PARSERS[event.webhook_event](event, rules)


def _origin(event: JiraEvent, source: Source, comment_id: str | None = None) -> Origin:
    return Origin(event.issue_key, event.actor_account_id, event.delivery_id, source, comment_id)


def _label_changes(changelog: tuple[FieldChange, ...]) -> tuple[set[str], set[str]]:
    # fromString/toString are the whole label sets before and after, space-joined (labels have no spaces),
    # not a diff (FACTS §1.5, fixture jira:issue_updated__label_added_among_others).
    added: set[str] = set()
    removed: set[str] = set()
    for change in changelog:
        if change.is_field("labels"):
            before = set((change.from_string or "").split())
            after = set((change.to_string or "").split())
            added |= after - before
            removed |= before - after
    return added, removed


def _new_status(changelog: tuple[FieldChange, ...]) -> str | None:
    # issue_event_type_name is no transition signal (issue_generic, issue_resolved, ...): the changelog is.
    return next((c.to_string for c in changelog if c.is_field("status") and c.to_string), None)


def _same_status(name: str, configured: str | None) -> bool:
    return configured is not None and name.strip().casefold() == configured.strip().casefold()
