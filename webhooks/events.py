"""Jira webhook bodies → one checked, frozen `JiraEvent` holding only what we use; raw JSON stops here.

Every field is checked as it is read (in the spirit of Zulip's `.tame(check_string)`); anything malformed
raises `MalformedEvent` with a reason the caller answers with (400).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from typing import Any

from webhooks.adf import UnreadableADF, adf_to_text
from workflows.ids import is_account_id, is_issue_key

DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
MAX_EVENT_NAME = 64


class MalformedEvent(ValueError):
    """The body is not a Jira webhook payload we can read; the message says what is wrong."""


@dataclass(frozen=True)
class FieldChange:
    """One changelog item: which field changed, from what to what (display strings, as Jira sends them)."""

    field: str
    field_id: str | None
    from_string: str | None
    to_string: str | None

    def is_field(self, name: str) -> bool:
        """True when this item is about `name` (`field`, or `fieldId` where older payloads differ)."""
        return name in (self.field, self.field_id)


@dataclass(frozen=True)
class JiraComment:
    """A comment: its id, its author, and its body as plain text (ADF is flattened to wiki-style text)."""

    id: str
    author_account_id: str
    body: str


@dataclass(frozen=True)
class JiraEvent:
    """A Jira webhook delivery we read: the issue, who caused it, and what changed."""

    webhook_event: str
    delivery_id: str
    issue_key: str
    timestamp: int
    # The account behind the event: `comment.author` for comment events, `user` for issue events.
    actor_account_id: str
    issue_event_type_name: str | None
    changelog: tuple[FieldChange, ...]
    labels: tuple[str, ...]
    comment: JiraComment | None
    body_sha256: str = ""  # of the raw body: a replay under a new identifier has the same one

    @classmethod
    def from_payload(cls, data: Mapping[str, Any], delivery_id: str | None = None) -> JiraEvent:
        """Read and check the fields we use; without a delivery id, derive a stable one from the payload."""
        name = event_name(data)
        issue = _object(data, "issue")
        fields = _optional_object(issue, "fields", "issue.fields") or {}
        comment = _comment(data["comment"]) if data.get("comment") is not None else None
        if name.startswith("comment_") and comment is None:
            raise MalformedEvent("comment: missing in a comment event")
        user = _optional_object(data, "user", "user")
        # A comment event has no top-level `user` (FACTS §1.7); an issue_updated twin of a comment has both,
        # and the comment's author is who caused it.
        if comment is not None:
            actor = comment.author_account_id
        elif user is not None:
            actor = _account_id(user, "user")
        else:
            raise MalformedEvent("user: missing (Jira always sends it with issue events)")
        key = _issue_key(issue)
        timestamp = _timestamp(data)
        changelog = _changelog(data.get("changelog"))
        return cls(
            webhook_event=name,
            delivery_id=delivery_id or derive_delivery_id(name, key, timestamp, comment, changelog),
            issue_key=key,
            timestamp=timestamp,
            actor_account_id=actor,
            issue_event_type_name=_optional_str(data, "issue_event_type_name", "issue_event_type_name"),
            changelog=changelog,
            labels=_labels(fields.get("labels")),
            comment=comment,
        )


@dataclass(frozen=True)
class OtherEvent:
    """A delivery of an event whose body we do not read (worklogs, projects, unknown events)."""

    webhook_event: str


def read_jira_delivery(body: bytes, delivery_header: str | None, reads: Container[str]) -> JiraEvent | OtherEvent:
    """Decode a raw body; events named in `reads` become a checked `JiraEvent`, the rest an `OtherEvent`."""
    delivery_id = check_delivery_header(delivery_header)
    data = decode_body(body)
    name = event_name(data)
    if name not in reads:
        return OtherEvent(name)
    return replace(JiraEvent.from_payload(data, delivery_id=delivery_id), body_sha256=hashlib.sha256(body).hexdigest())


def check_delivery_header(value: str | None) -> str | None:
    """`X-Atlassian-Webhook-Identifier` as given (a UUID in practice); None when absent."""
    if value is None or value.strip() == "":
        return None
    if not DELIVERY_ID.match(value.strip()):
        raise MalformedEvent("X-Atlassian-Webhook-Identifier: expected up to 128 printable characters")
    return value.strip()


def decode_body(body: bytes) -> Mapping[str, Any]:
    """The body as a JSON object."""
    try:
        data = json.loads(body)
    except ValueError:  # not UTF-8, not JSON, or a number beyond Python's int-parsing limit
        raise MalformedEvent("body: not JSON") from None
    except RecursionError:
        raise MalformedEvent("body: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedEvent(f"body: expected a JSON object, got {_kind(data)}")
    return data


def event_name(data: Mapping[str, Any]) -> str:
    """`webhookEvent`, such as `jira:issue_updated` or `comment_created`."""
    name = _str(data, "webhookEvent", "webhookEvent")
    if not name or len(name) > MAX_EVENT_NAME:
        raise MalformedEvent(f"webhookEvent: expected a name of 1-{MAX_EVENT_NAME} characters")
    return name


def derive_delivery_id(
    name: str, issue_key: str, timestamp: int, comment: JiraComment | None, changelog: tuple[FieldChange, ...]
) -> str:
    """A stable id for a delivery without `X-Atlassian-Webhook-Identifier`: the same event gives the same id."""
    parts = [name, issue_key, str(timestamp), comment.id if comment else "", repr(changelog)]
    return "derived-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _comment(raw: Any) -> JiraComment:
    if not isinstance(raw, dict):
        raise MalformedEvent(f"comment: expected an object, got {_kind(raw)}")
    comment_id = raw.get("id")
    # Jira sends ids as strings ("51877"); accept a bare number too, as the docs' examples are loose.
    if isinstance(comment_id, int) and not isinstance(comment_id, bool) and comment_id >= 0:
        comment_id = str(comment_id)
    if not isinstance(comment_id, str) or not re.match(r"^[0-9A-Za-z_-]{1,64}$", comment_id):
        raise MalformedEvent("comment.id: expected an id string")
    author = _object(raw, "author", "comment.author")
    return JiraComment(
        id=comment_id, author_account_id=_account_id(author, "comment.author"), body=_comment_body(raw.get("body"))
    )


def _comment_body(raw: Any) -> str:
    # REST v2 webhooks send wiki-markup strings; some channels reportedly send ADF documents (FACTS §1.7).
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        try:
            return adf_to_text(raw)
        except UnreadableADF as err:
            raise MalformedEvent(f"comment.body: {err}") from None
    raise MalformedEvent(f"comment.body: expected text or an ADF document, got {_kind(raw)}")


def _changelog(raw: Any) -> tuple[FieldChange, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise MalformedEvent(f"changelog: expected an object, got {_kind(raw)}")
    items = raw.get("items", [])
    if not isinstance(items, list):
        raise MalformedEvent(f"changelog.items: expected a list, got {_kind(items)}")
    changes = []
    for index, item in enumerate(items):
        where = f"changelog.items[{index}]"
        if not isinstance(item, dict):
            raise MalformedEvent(f"{where}: expected an object, got {_kind(item)}")
        changes.append(
            FieldChange(
                field=_str(item, "field", f"{where}.field"),
                field_id=_optional_str(item, "fieldId", f"{where}.fieldId"),
                from_string=_optional_str(item, "fromString", f"{where}.fromString"),
                to_string=_optional_str(item, "toString", f"{where}.toString"),
            )
        )
    return tuple(changes)


def _labels(raw: Any) -> tuple[str, ...]:
    # Comment events carry a reduced `issue.fields` without labels (FACTS §1.7): absent means "not told".
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(label, str) for label in raw):
        raise MalformedEvent("issue.fields.labels: expected a list of strings")
    return tuple(raw)


def _issue_key(issue: Mapping[str, Any]) -> str:
    key = _str(issue, "key", "issue.key").strip().upper()
    if not is_issue_key(key):
        raise MalformedEvent("issue.key: expected an issue key such as PAY-317")
    return key


def _account_id(user: Mapping[str, Any], where: str) -> str:
    account_id = _str(user, "accountId", f"{where}.accountId")
    if not is_account_id(account_id):
        raise MalformedEvent(f"{where}.accountId: expected an Atlassian account id")
    return account_id


def _timestamp(data: Mapping[str, Any]) -> int:
    value = data.get("timestamp")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEvent("timestamp: expected epoch milliseconds (a whole number)")
    return value


def _object(data: Mapping[str, Any], key: str, where: str | None = None) -> Mapping[str, Any]:
    value = _optional_object(data, key, where or key)
    if value is None:
        raise MalformedEvent(f"{where or key}: missing")
    return value


def _optional_object(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise MalformedEvent(f"{where}: expected an object, got {_kind(value)}")
    return value


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(f"{where}: expected a string, got {_kind(value)}")
    return value


def _optional_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"{where}: expected a string or null, got {_kind(value)}")
    return value


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def _kind(value: Any) -> str:
    # Names the JSON type only: a reason we answer with must never echo payload content.
    return "nothing" if value is None else _KINDS.get(type(value), "something else")
