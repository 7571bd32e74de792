"""What the gateway returns: small frozen dataclasses, never raw Jira JSON.

The Jira activities return these as they are (activities/jira.py), so they cross into workflow history: fields
added later need defaults, or the saved histories stop replaying.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IssueSnapshot:
    """The fields of an issue a run uses (description in Jira wiki markup, as REST v2 returns it)."""

    key: str
    summary: str
    description: str
    labels: tuple[str, ...]
    status: str
    reporter: str | None  # an account id
    project_key: str
    status_id: str = ""
    issue_id: str = ""


@dataclass(frozen=True)
class Comment:
    """One comment: id, author's account id, wiki-markup body, and our event key if the bot stamped one."""

    id: str
    author: str | None
    body: str
    created: str
    event_key: str | None = None
    quiet_key: str | None = None  # what a bot's answer was, to whom (QuietAnswer.key); on the bot's answers only


@dataclass(frozen=True)
class QuietAnswer:
    """Give answer `key` (a kind of answer to a person) at most once per `seconds`: not when the bot gave it within
    that time before the comment `comment_id` was written (Jira's own timestamps: no clock of ours is compared)."""

    key: str
    seconds: int
    comment_id: str


@dataclass(frozen=True)
class TransitionOutcome:
    """Where the issue is now and how it got there: `transitioned`, `already` or `labelled` (no such status)."""

    status: str
    how: str
    label: str | None = None
    message: str = ""


@dataclass(frozen=True)
class ApproverDecision:
    """May this account steer the run: the answer, why, who may (for the refusal), and whether it is the bot."""

    allowed: bool
    reason: str
    who_may_approve: str
    is_bot: bool = False


@dataclass(frozen=True)
class Attachment:
    """A file attached to an issue: its id, name, size in bytes, where its content is, and who attached it."""

    id: str
    filename: str
    size: int
    content_url: str = ""
    author: str | None = None  # an account id


@dataclass(frozen=True)
class StatusMove:
    """One change of an issue's status (or, with `field`, of another field) from its changelog: which history
    entry, who, when, and to what (for labels: the labels after the change, space-separated)."""

    history_id: str
    author: str | None  # an account id
    created: str  # Jira's timestamp, e.g. 2026-01-01T09:00:00.233+0000
    to_status: str
    field: str = "status"
    from_string: str = ""
