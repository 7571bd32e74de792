"""An account's Jira groups, by id: a group's name can be changed (or reused by a new group), its id cannot."""

from __future__ import annotations

from app.jira_gateway.client import JiraTransport
from app.jira_gateway.errors import JiraNotFound


def group_ids(http: JiraTransport, account_id: str) -> tuple[str, ...]:
    """The ids of the account's groups (`GET /rest/api/2/user/groups`); none for an unknown account."""
    try:
        groups = http.get("user/groups", accountId=account_id) or []
    except JiraNotFound:
        return ()  # no such account: it belongs to no group
    # Jira Cloud answers {"name", "groupId", "self"} per group; a group without an id cannot be matched.
    return tuple(str(group["groupId"]) for group in groups if group.get("groupId"))
