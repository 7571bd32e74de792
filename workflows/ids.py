"""The one rule for issue keys and account ids, and the ids built from them, shared by webhook, API, CLI and agent."""

from __future__ import annotations

import re

WORKFLOW_ID_PREFIX = "orchestration-"
# A Jira Cloud account id as webhooks carry it (`712020:a11ce000-...`, or an older 24-hex id).
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")
# What only an Atlassian account id looks like (never a group name): `<6 digits>:<uuid>`, or 24 hex digits.
CLOUD_ACCOUNT_ID = re.compile(r"^(?:[0-9]{6}:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{24})$")
# Jira's rule for project keys: a capital letter, then capitals, digits or underscores, 2 to 255 characters in all
# (the default pattern `[A-Z][A-Z]+`, widened by admins at most to this); then a hyphen and the issue's number.
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,254}-[1-9][0-9]{0,17}$")


def is_issue_key(text: str) -> bool:
    """True when `text` is an issue key such as PAY-317 (upper case, as Jira writes it)."""
    return ISSUE_KEY.match(text) is not None


def is_account_id(text: str) -> bool:
    """True when `text` can be a Jira account id (and so is safe inside a `[~accountid:...]` mention)."""
    return ACCOUNT_ID.match(text) is not None


def is_cloud_account_id(text: str) -> bool:
    """True when `text` can only be an Atlassian account id (ORCHESTRATOR_APPROVERS mixes them with group names)."""
    return CLOUD_ACCOUNT_ID.match(text) is not None


def project_key_of(issue_key: str) -> str:
    """`PAY-317` → `PAY`."""
    return issue_key.rsplit("-", 1)[0]


def workflow_id_for(issue_key: str) -> str:
    """The one workflow id an issue's orchestration runs under: `orchestration-<KEY>`."""
    return f"{WORKFLOW_ID_PREFIX}{issue_key.upper()}"
