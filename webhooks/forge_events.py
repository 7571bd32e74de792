"""Forge deliveries read into what the orchestrator acts on: a pull request of `jira/<KEY>` merged or closed.

Pure: the raw body and headers in, a `PullRequestClosed` or an `Ignored` out, `MalformedEvent` for a body that is
not the event it says it is. GitHub: `X-GitHub-Event: pull_request`, `action: closed`, `pull_request.merged`.
GitLab: `X-Gitlab-Event: Merge Request Hook`, `object_attributes.action` `merge` or `close`. Only branches named
`jira/<KEY>` (the agents' issue branches) concern us; everything else is ignored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from webhooks.events import MalformedEvent
from workflows.ids import is_issue_key

BRANCH_PREFIX = "jira/"


@dataclass(frozen=True)
class PullRequestClosed:
    """The pull request of an issue branch was merged, or closed without merging."""

    issue_key: str
    number: int
    url: str
    merged: bool
    delivery_id: str


@dataclass(frozen=True)
class Ignored:
    """A delivery that needs nothing from us, and why."""

    reason: str


def read_github(body: bytes, event: str | None, delivery_id: str | None) -> PullRequestClosed | Ignored:
    """A GitHub delivery (`pull_request` closed) read, or why it is ignored."""
    if event == "ping":
        return Ignored("ping")
    if event != "pull_request":
        return Ignored(f"event {event or '(none)'} is not handled")
    data = _object(body)
    if data.get("action") != "closed":
        return Ignored(f"pull request action {data.get('action')!r} is not handled")
    pull = _field(data, "pull_request", dict)
    head = _field(_field(pull, "head", dict), "ref", str)
    return _closed(head, _field(pull, "number", int), _field(pull, "html_url", str), pull.get("merged") is True,
                   delivery_id, body)  # fmt: skip


def read_gitlab(body: bytes, event: str | None, delivery_id: str | None) -> PullRequestClosed | Ignored:
    """A GitLab delivery (Merge Request Hook, merge or close) read, or why it is ignored."""
    if event != "Merge Request Hook":
        return Ignored(f"event {event or '(none)'} is not handled")
    attributes = _field(_object(body), "object_attributes", dict)
    action = attributes.get("action")
    if action not in ("merge", "close"):
        return Ignored(f"merge request action {action!r} is not handled")
    branch = _field(attributes, "source_branch", str)
    number, url = _field(attributes, "iid", int), _field(attributes, "url", str)
    return _closed(branch, number, url, action == "merge", delivery_id, body)


def _closed(
    branch: str, number: int, url: str, merged: bool, delivery_id: str | None, body: bytes
) -> PullRequestClosed | Ignored:
    key = branch.removeprefix(BRANCH_PREFIX)
    if not branch.startswith(BRANCH_PREFIX) or not is_issue_key(key):
        return Ignored(f"branch {branch[:100]!r} is not an issue branch (jira/<KEY>)")
    if not url.startswith(("https://", "http://")):
        raise MalformedEvent("the pull request's URL is not an http(s) URL")
    # Without a delivery id (an old GitLab), the body's hash stands in: a re-sent body is the same delivery.
    delivery = (delivery_id or "").strip()[:100] or "sha256-" + hashlib.sha256(body).hexdigest()[:32]
    return PullRequestClosed(key, number, url, merged, delivery)


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("the body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedEvent("the body is not a JSON object")
    return data


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MalformedEvent(f"{name}: expected {kind.__name__}")
    return value
