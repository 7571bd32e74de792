"""JSON shapes of the sandbox Jira, as Jira Cloud REST v2 and its webhooks have them (FACTS.md §1.4–1.7, §8)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from app.sandbox.seed import ISSUE_TYPE, PRIORITY, STATUSES, project_of


def jira_time(now: float | None = None) -> str:
    """Jira's timestamp format, e.g. `2026-01-01T09:00:00.233+0000`."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def status_json(status_id: str, base: str) -> dict[str, Any]:
    """A status with its category."""
    for sid, name, cat_id, cat_key, cat_name in STATUSES:
        if sid == status_id:
            return {
                "self": f"{base}/rest/api/2/status/{sid}",
                "id": sid,
                "name": name,
                "statusCategory": {"id": cat_id, "key": cat_key, "name": cat_name},
            }
    raise KeyError(status_id)


def status_name(status_id: str) -> str:
    """The name of a status id."""
    return str(status_json(status_id, "")["name"])


def user_json(user: dict[str, Any] | None, base: str) -> dict[str, Any] | None:
    """A user as webhooks and issue fields show it (no email, groups or locale)."""
    if user is None:
        return None
    return {
        "self": f"{base}/rest/api/2/user?accountId={user['accountId']}",
        "accountId": user["accountId"],
        "accountType": "atlassian",
        "displayName": user["displayName"],
        "active": True,
        "timeZone": "UTC",
    }


def project_json(issue_key: str, base: str) -> dict[str, Any]:
    """The reference to the project an issue belongs to."""
    project = project_of(issue_key)
    return {"self": f"{base}/rest/api/2/project/{project['id']}", **project}


def changelog_json(history: list[dict[str, Any]], users: dict[str, Any], base: str) -> dict[str, Any]:
    """The issue's changes as `expand=changelog` shows them, oldest first (one page: the sandbox's are short)."""
    histories = [
        {"id": entry["id"], "author": user_json(users.get(entry["author"]), base), "created": entry.get("created"),
         "items": entry["items"]}
        for entry in history
    ]  # fmt: skip
    return {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories}


def issue_json(issue: dict[str, Any], users: dict[str, Any], base: str, reduced: bool = False) -> dict[str, Any]:
    """An issue with no expands; `reduced` is the field set comment webhooks carry (no labels)."""
    fields: dict[str, Any] = {
        "summary": issue["summary"],
        "issuetype": ISSUE_TYPE,
        "project": project_json(issue["key"], base),
        "assignee": None,
        "priority": PRIORITY,
        "status": status_json(issue["status"], base),
    }
    if not reduced:
        fields |= {
            "description": issue["description"],
            "labels": list(issue["labels"]),
            "reporter": user_json(users.get(issue["reporter"]), base),
            "resolution": issue["resolution"],
            "created": issue["created"],
            "updated": issue["updated"],
            "attachment": [attachment_json(a, users, base) for a in issue.get("attachments", [])],
        }
    return {"id": issue["id"], "self": f"{base}/rest/api/2/issue/{issue['id']}", "key": issue["key"], "fields": fields}


def comment_json(issue: dict[str, Any], comment: dict[str, Any], users: dict[str, Any], base: str) -> dict[str, Any]:
    """A comment as REST v2 and the comment webhooks return it (body in wiki markup)."""
    return {
        "self": f"{base}/rest/api/2/issue/{issue['id']}/comment/{comment['id']}",
        "id": comment["id"],
        "author": user_json(users.get(comment["author"]), base),
        "body": comment["body"],
        "updateAuthor": user_json(users.get(comment["updateAuthor"]), base),
        "created": comment["created"],
        "updated": comment["updated"],
        "jsdPublic": True,
    }


def properties_json(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """Entity properties as `expand=properties` lists them."""
    return [{"key": key, "value": value} for key, value in properties.items()]


def issue_event(
    event: str, issue: dict[str, Any], users: dict[str, Any], actor: str, base: str, changelog: dict[str, Any] | None
) -> dict[str, Any]:
    """A `jira:issue_created` / `jira:issue_updated` webhook body."""
    if event == "jira:issue_created":
        type_name = "issue_created"
    elif changelog and any(item["field"] == "status" for item in changelog["items"]):
        type_name = "issue_generic"  # what Cloud sends for workflow transitions (FACTS.md §1.6)
    else:
        type_name = "issue_updated"
    body: dict[str, Any] = {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": type_name,
        "user": user_json(users[actor], base),
        "issue": issue_json(issue, users, base),
    }
    if changelog is not None:
        body["changelog"] = changelog
    return body


def comment_event(
    event: str, issue: dict[str, Any], comment: dict[str, Any], users: dict[str, Any], base: str
) -> dict[str, Any]:
    """A `comment_created` / `comment_updated` webhook body: no top-level `user`, a reduced `issue`."""
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": event,
        "comment": comment_json(issue, comment, users, base),
        "issue": issue_json(issue, users, base, reduced=True),
    }


def errors_json(*messages: str, **field_errors: str) -> dict[str, Any]:
    """Jira's error body."""
    return {"errorMessages": list(messages), "errors": dict(field_errors)}


def attachment_json(attachment: dict[str, Any], users: dict[str, Any], base: str) -> dict[str, Any]:
    """An attachment as REST v2 lists it in `fields.attachment` and answers an upload with."""
    return {
        "self": f"{base}/rest/api/2/attachment/{attachment['id']}",
        "id": attachment["id"],
        "filename": attachment["filename"],
        "author": user_json(users.get(attachment["author"]), base),
        "created": attachment["created"],
        "size": attachment["size"],
        "mimeType": attachment["mimeType"],
        "content": f"{base}/rest/api/2/attachment/content/{attachment['id']}",
    }
