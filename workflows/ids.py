"""The one rule for issue keys, and the ids built from them (workflow ids), shared by webhook, API, CLI and agent."""

from __future__ import annotations

import re

WORKFLOW_ID_PREFIX = "orchestration-"
# Jira's rule for project keys: a capital letter, then capitals, digits or underscores, 2 to 255 characters in all
# (the default pattern `[A-Z][A-Z]+`, widened by admins at most to this); then a hyphen and the issue's number.
ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,254}-[1-9][0-9]{0,17}$")


def is_issue_key(text: str) -> bool:
    """True when `text` is an issue key such as PAY-317 (upper case, as Jira writes it)."""
    return ISSUE_KEY.match(text) is not None


def project_key_of(issue_key: str) -> str:
    """`PAY-317` → `PAY`."""
    return issue_key.rsplit("-", 1)[0]


def workflow_id_for(issue_key: str) -> str:
    """The one workflow id an issue's orchestration runs under: `orchestration-<KEY>`."""
    return f"{WORKFLOW_ID_PREFIX}{issue_key.upper()}"
