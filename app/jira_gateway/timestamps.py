"""Jira's timestamps (`2026-01-01T09:00:00.233+0000`, as REST v2 writes `created` and `updated`) read as datetimes."""

from __future__ import annotations

from datetime import datetime

JIRA_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


def parse_jira_time(text: str) -> datetime | None:
    """The moment a Jira timestamp names (timezone-aware), or None when it is not one."""
    try:
        return datetime.strptime(text, JIRA_TIME_FORMAT)
    except ValueError:
        return None
