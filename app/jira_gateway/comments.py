"""Comments: list every page, post exactly once per event key, and the run's status comment edited in place.

Exactly once: the bot stamps each comment it posts with a comment property `orchestrator.event` =
`{"key": <event key>}` in the same POST that creates it (Jira stores `properties` atomically with the comment),
and before posting it looks for a comment carrying that key. A retry after a POST whose answer was lost therefore
finds the first comment instead of adding a second. Only stamps on comments the bot wrote count: anyone may set
a property on their own comment, and a forged stamp must not suppress the bot's comment.

Status comment: the run keeps the comment's id (the first write returns it) and hands it to each later edit, which
checks that the bot wrote it (a forged pointer must not redirect the bot's edits to someone's comment). Before it
has the id, the event-key stamp finds the comment a retry already posted; if the comment was deleted, a new one is
created. Runs from before kept the id in the issue property `orchestrator.status.<run key>` instead (one more write
per run): they pass no id, and that protocol is kept for them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from app.jira_gateway.client import JiraTransport
from app.jira_gateway.errors import JiraNotFound
from app.jira_gateway.models import Comment, QuietAnswer

EVENT_PROPERTY = "orchestrator.event"
STATUS_PROPERTY_PREFIX = "orchestrator.status."
PAGE_SIZE = 100
MAX_PROPERTY_KEY = 255


def status_property_key(run_key: str) -> str:
    """The issue property holding the status comment's id for one run (Jira keys: ≤255 chars)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_key)
    return (STATUS_PROPERTY_PREFIX + safe)[:MAX_PROPERTY_KEY]


class CommentOps:
    """Comment reads and idempotent comment writes on one Jira site."""

    def __init__(self, http: JiraTransport, bot_account_id: Callable[[], str]) -> None:
        self.http = http
        self.bot_account_id = bot_account_id

    def list_comments(self, issue_key: str) -> list[Comment]:
        """Every comment of the issue, oldest first, across all pages (the `jira` package reads only one)."""
        return [self._parse(issue_key, raw) for raw in self._pages(issue_key)]

    def find_by_event(self, issue_key: str, event_key: str) -> Comment | None:
        """The comment the bot stamped with `event_key`, if any."""
        for comment in self.list_comments(issue_key):
            if comment.event_key == event_key:
                return comment
        return None

    def post_once(self, issue_key: str, event_key: str, body: str, quiet: QuietAnswer | None = None) -> str:
        """Post `body` unless a comment for `event_key` exists; return the comment's id either way. With `quiet`,
        post nothing (and return "") when the bot answered the same person a moment before."""
        comments = self.list_comments(issue_key)
        existing = next((c for c in comments if c.event_key == event_key), None)
        if existing is not None:
            return existing.id
        if quiet is not None and _answered_lately(comments, quiet):
            return ""
        return self._create(issue_key, event_key, body, quiet.key if quiet is not None else None)

    def upsert_status(self, issue_key: str, run_key: str, body: str, known_id: str | None = None) -> str:
        """Create the run's status comment once, then edit it in place; return its id.

        `known_id`: the id an earlier call returned ("" before the first); None: a run from before, which keeps the
        id in an issue property."""
        prop = status_property_key(run_key)
        if known_id is None:
            pointer = self._read_issue_property(issue_key, prop)
            comment_id = str(pointer.get("comment_id", "")) if isinstance(pointer, dict) else ""
        else:
            comment_id = known_id
        if comment_id and self._written_by_bot(issue_key, comment_id):
            try:
                self.edit(issue_key, comment_id, body)
                return comment_id
            except JiraNotFound:
                pass  # someone deleted it: post a new one below (and re-point the property)
        event_key = f"status:{run_key}"
        existing = self.find_by_event(issue_key, event_key)
        if existing is not None:
            comment_id = existing.id
            self.edit(issue_key, comment_id, body)
        else:
            comment_id = self._create(issue_key, event_key, body)
        if known_id is None:
            self.http.put(f"issue/{issue_key}/properties/{prop}", {"run_key": run_key, "comment_id": comment_id})
        return comment_id

    def edit(self, issue_key: str, comment_id: str, body: str) -> None:
        """Replace a comment's body without notifying watchers (a status comment changes often)."""
        self.http.put(f"issue/{issue_key}/comment/{comment_id}", {"body": body}, notifyUsers="false")

    def _written_by_bot(self, issue_key: str, comment_id: str) -> bool:
        """Whether the comment exists and the bot wrote it (a pointer to anyone else's comment is not followed)."""
        try:
            raw = self.http.get(f"issue/{issue_key}/comment/{comment_id}")
        except JiraNotFound:
            return False  # deleted: post a new one and re-point the property
        return bool((raw.get("author") or {}).get("accountId") == self.bot_account_id())

    def _create(self, issue_key: str, event_key: str, body: str, quiet_key: str | None = None) -> str:
        stamp = {"key": event_key} | ({"quiet": quiet_key} if quiet_key is not None else {})
        created = self.http.post(
            f"issue/{issue_key}/comment", {"body": body, "properties": [{"key": EVENT_PROPERTY, "value": stamp}]}
        )
        return str(created["id"])

    def _pages(self, issue_key: str) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            page = self.http.get(
                f"issue/{issue_key}/comment",
                startAt=start,
                maxResults=PAGE_SIZE,
                orderBy="created",
                expand="properties",
            )
            items = page.get("comments") or []
            yield from items
            start += len(items)
            if not items or start >= int(page.get("total", 0)):
                return

    def _parse(self, issue_key: str, raw: dict[str, Any]) -> Comment:
        author = (raw.get("author") or {}).get("accountId")
        body = raw.get("body")
        by_bot = author == self.bot_account_id()
        # A stamp counts only on the bot's own comments: a user's comment carrying one is someone's forgery.
        stamp = _stamp(raw.get("properties") or []) if by_bot else {}
        if "properties" not in raw and by_bot:
            # Properties were not expanded (a site that ignores expand=properties): ask for the stamp itself.
            read = self._read_comment_property(str(raw["id"]))
            stamp = read if isinstance(read, dict) else {}
        return Comment(
            id=str(raw["id"]),
            author=author,
            body=body if isinstance(body, str) else "",
            created=str(raw.get("created", "")),
            event_key=_text(stamp.get("key")),
            quiet_key=_text(stamp.get("quiet")),
        )

    def _read_issue_property(self, issue_key: str, prop: str) -> Any:
        try:
            return (self.http.get(f"issue/{issue_key}/properties/{prop}") or {}).get("value")
        except JiraNotFound:
            return None

    def _read_comment_property(self, comment_id: str) -> Any:
        try:
            return (self.http.get(f"comment/{comment_id}/properties/{EVENT_PROPERTY}") or {}).get("value")
        except JiraNotFound:
            return None


def _stamp(properties: list[dict[str, Any]]) -> dict[str, Any]:
    for prop in properties:
        value = prop.get("value")
        if prop.get("key") == EVENT_PROPERTY and isinstance(value, dict):
            return value
    return {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _answered_lately(comments: list[Comment], quiet: QuietAnswer) -> bool:
    """Whether the bot answered `quiet.key` within `quiet.seconds` before the comment being answered was written."""
    asked = next((_when(c.created) for c in comments if c.id == quiet.comment_id), None)
    if asked is None:  # the comment is gone (or not a comment): measure from the newest one
        asked = max((w for w in (_when(c.created) for c in comments) if w is not None), default=None)
    if asked is None:
        return False
    since = asked - timedelta(seconds=quiet.seconds)
    return any(c.quiet_key == quiet.key and (w := _when(c.created)) is not None and w > since for c in comments)


def _when(created: str) -> datetime | None:
    try:
        return datetime.fromisoformat(created)
    except ValueError:
        return None
