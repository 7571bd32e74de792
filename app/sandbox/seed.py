"""The sandbox Jira's starting state: projects DEMO and OPS, their workflow, four accounts and a few issues.

People (log in with email + token, like Jira Cloud basic auth; these are fixed sandbox credentials):

| user       | account id         | may                                                                  |
|------------|--------------------|----------------------------------------------------------------------|
| `reviewer` | `sandbox-reviewer` | approve: member of `orchestrator-approvers` (the sandbox default list) |
| `reporter` | `sandbox-reporter` | report issues, comment, transition; not an approver                  |
| `outsider` | `sandbox-outsider` | comment only (no *Transition issues*); not an approver               |
| `bot`      | `sandbox-bot`      | the orchestrator's account (`SANDBOX_BOT_EMAIL` / `SANDBOX_BOT_TOKEN`); Jira admin |

Workflow: To Do, In Progress, In Review, Done, Blocked; every status can move to every other one, except that
Done only reopens to To Do (so "Done → Blocked" has no transition, which is what the label fallback is for).
"""

from __future__ import annotations

from typing import Any

from app.config import SANDBOX_APPROVER_GROUP, SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN

# Two projects, so the per-project job queues (one job at a time per project) have something to show.
PROJECTS = {
    "DEMO": {"id": "10000", "key": "DEMO", "name": "Demo project", "projectTypeKey": "software"},
    "OPS": {"id": "10001", "key": "OPS", "name": "Operations", "projectTypeKey": "software"},
}
PROJECT = PROJECTS["DEMO"]  # where an issue goes when its creator names no project
ISSUE_TYPE = {"id": "10001", "name": "Task", "subtask": False}
PRIORITY = {"id": "3", "name": "Medium"}
ALL_PERMISSIONS = ["BROWSE_PROJECTS", "ADD_COMMENTS", "EDIT_ISSUES", "TRANSITION_ISSUES", "LINK_ISSUES"]

# (id, name, category id, category key, category name), as Jira's statusCategory
STATUSES = [
    ("10001", "To Do", 2, "new", "To Do"),
    ("3", "In Progress", 4, "indeterminate", "In Progress"),
    ("10002", "In Review", 4, "indeterminate", "In Progress"),
    ("10003", "Done", 3, "done", "Done"),
    ("10004", "Blocked", 4, "indeterminate", "In Progress"),
]
# Transition id and name per target status; availability is decided by `transitions_from`.
TRANSITIONS = {"10001": ("11", "Reopen"), "3": ("21", "Start progress"), "10002": ("31", "Request review")}
TRANSITIONS |= {"10003": ("41", "Done"), "10004": ("51", "Block")}
DONE = "10003"
TO_DO_ID = "10001"


def _user(name: str, display: str, email: str, token: str, groups: list[str], admin: bool = False) -> dict[str, Any]:
    permissions = ALL_PERMISSIONS if name != "outsider" else ["BROWSE_PROJECTS", "ADD_COMMENTS"]
    return {
        "accountId": f"sandbox-{name}",
        "name": name,
        "displayName": display,
        "email": email,
        "token": token,
        "groups": groups,
        "permissions": permissions,
        "admin": admin,
    }


USERS = [
    _user("reviewer", "Rita Reviewer", "reviewer@sandbox.invalid", "reviewer-token", [SANDBOX_APPROVER_GROUP]),
    _user("reporter", "Remy Reporter", "reporter@sandbox.invalid", "reporter-token", ["jira-users"]),
    _user("outsider", "Otto Outsider", "outsider@sandbox.invalid", "outsider-token", []),
    _user("bot", "Orchestrator Bot", SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN, ["jira-administrators"], admin=True),
]

# (project key, summary, description); numbered per project in this order: DEMO-1..3, OPS-1..2.
ISSUES = [
    (
        "DEMO",
        "Add a greeting function",
        "Add a function {{greet(name)}} that returns {{Hello, <name>!}}, with a unit test.",
    ),
    (
        "DEMO",
        "Add a farewell function",
        "Add a function {{farewell(name)}} that returns {{Goodbye, <name>.}}, with a unit test.",
    ),
    (
        "DEMO",
        "Document the greeting module",
        "Write a short README section explaining how to call the greeting functions.",
    ),
    (
        "OPS",
        "Log each greeting",
        "Make {{greet(name)}} log the name it greets at INFO level, with a unit test.",
    ),
    (
        "OPS",
        "Expose the service version",
        "Add {{__version__}} to the greeting module so deployments can report it, with a unit test.",
    ),
]


def project_of(key: str) -> dict[str, str]:
    """The project an issue key belongs to (its prefix, as in Jira), else KeyError."""
    return PROJECTS[key.rsplit("-", 1)[0].upper()]


def next_key(project_key: str, existing: list[str]) -> str:
    """The key a new issue of the project gets: one more than the highest number the project has used."""
    numbers = [int(key.rsplit("-", 1)[1]) for key in existing if key.rsplit("-", 1)[0] == project_key]
    return f"{project_key}-{max(numbers, default=0) + 1}"


def transitions_from(status_id: str) -> list[str]:
    """Target status ids reachable from `status_id`."""
    if status_id == DONE:
        return [TO_DO_ID]
    return [sid for sid, *_ in STATUSES if sid != status_id]


def initial_state(now: str) -> dict[str, Any]:
    """A fresh sandbox: users, projects DEMO and OPS with their issues (reported by `reporter`), no outbox."""
    issues: dict[str, dict[str, Any]] = {}
    for number, (project, summary, description) in enumerate(ISSUES, start=1):
        key = next_key(project, list(issues))
        issues[key] = {
            "id": str(10000 + number),
            "key": key,
            "summary": summary,
            "description": description,
            "labels": [],
            "status": TO_DO_ID,
            "resolution": None,
            "reporter": "sandbox-reporter",
            "created": now,
            "updated": now,
            "comments": [],
            "properties": {},
            "remotelinks": [],
            "history": [],
        }
    return {
        "version": 1,
        "counters": {"issue": 10000 + len(ISSUES), "comment": 10000, "changelog": 10000, "link": 10000},
        "users": {user["accountId"]: user for user in USERS},
        "issues": issues,
        "outbox": [],
        "failed": [],
    }
