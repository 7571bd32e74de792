"""REST v2 routes about the site: who am I, users and groups, permission checks, issue search and creation."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.jira_gateway.timestamps import parse_jira_time
from app.sandbox import shapes
from app.sandbox.http import current_user, int_arg, json_body, sandbox
from app.sandbox.seed import PROJECT, PROJECTS, project_of
from app.sandbox.tracker import SandboxError

bp = Blueprint("sandbox_site", __name__, url_prefix="/rest/api/2")

_CLAUSE = re.compile(r"""^(\w+)\s*(!=|=)\s*(?:"([^"]*)"|'([^']*)'|(\S+))$""")
_IN_CLAUSE = re.compile(r"^(\w+)\s+(not\s+in|in)\s*\(([^)]*)\)$", re.IGNORECASE)
# `updated >= "-90m"`: changed (created, edited, commented, transitioned) within the last 90 minutes (m, h or d).
_UPDATED_CLAUSE = re.compile(r"""^updated\s*>=\s*["']?-(\d+)([mhd])["']?$""", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def _answer(body: Any, status: int = 200) -> Response:
    answer = jsonify(body)
    answer.status_code = status
    return answer


@bp.get("/myself")
def myself() -> Response:
    """The caller, with email (as /myself answers)."""
    user = current_user()
    base = sandbox().tracker.base
    return _answer({**(shapes.user_json(user, base) or {}), "emailAddress": user["email"]})


@bp.get("/serverInfo")
def server_info() -> Response:
    """Enough of serverInfo for clients that ask."""
    base = sandbox().tracker.base
    return _answer(
        {"baseUrl": base, "version": "1001.0.0-SANDBOX", "deploymentType": "Cloud", "serverTitle": "Sandbox"}
    )


@bp.get("/user")
def get_user() -> Response:
    """A user by accountId."""
    user = _user(request.args.get("accountId", ""))
    return _answer(shapes.user_json(user, sandbox().tracker.base))


@bp.get("/user/groups")
def user_groups() -> Response:
    """The groups of a user (`accountId`)."""
    user = _user(request.args.get("accountId", ""))
    base = sandbox().tracker.base
    return _answer([{"name": g, "groupId": g, "self": f"{base}/rest/api/2/group?groupId={g}"} for g in user["groups"]])


@bp.post("/permissions/check")
def check_permissions() -> Response:
    """Bulk permission check; checking someone else needs *Administer Jira*, as on Cloud."""
    data = json_body()
    caller = current_user()
    account_id = data.get("accountId") or caller["accountId"]
    if account_id != caller["accountId"] and not caller["admin"]:
        raise SandboxError(403, "Only Jira administrators can check the permissions of other users.")
    user = _user(account_id)
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        known_issues = {int(i["id"]) for i in state["issues"].values()}
    project_ids = {project["id"] for project in PROJECTS.values()}
    grants = []
    for wanted in data.get("projectPermissions") or []:
        for permission in wanted.get("permissions") or []:
            has = permission in user["permissions"]
            issues = [i for i in wanted.get("issues") or [] if has and i in known_issues]
            projects = [p for p in wanted.get("projects") or [] if has and str(p) in project_ids]
            grants.append({"permission": permission, "issues": issues, "projects": projects})
    return _answer({"globalPermissions": ["ADMINISTER"] if user["admin"] else [], "projectPermissions": grants})


@bp.get("/search/jql")
def search() -> Response:
    """Token-paged JQL search over a small JQL subset: `field = value`, `!=`, `in (...)`, `updated >= "-Nm"`,
    joined by AND."""
    matches = _compile(request.args.get("jql", ""))
    size = int_arg("maxResults", 50, 5000)
    token = request.args.get("nextPageToken") or "0"
    if not token.isdigit():
        raise SandboxError(400, "The nextPageToken is invalid.")
    start = int(token)
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        found = [i for i in state["issues"].values() if all(m(i) for m in matches)]
        page = [shapes.issue_json(i, state["users"], tracker.base) for i in found[start : start + size]]
    body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
    if not body["isLast"]:
        body["nextPageToken"] = str(start + size)
    return _answer(body)


@bp.post("/issue")
def create_issue() -> Response:
    """Create an issue: `fields.project.key` (DEMO when absent), `fields.summary`, optional `description`, `labels`."""
    fields = json_body().get("fields") or {}
    project = str((fields.get("project") or {}).get("key", PROJECT["key"]))
    labels = fields.get("labels") or []
    key = sandbox().tracker.create_issue(
        current_user(), str(fields.get("summary") or ""), str(fields.get("description") or ""), list(labels), project
    )
    with sandbox().tracker.store.read() as state:
        issue = state["issues"][key]
        return _answer({"id": issue["id"], "key": key, "self": f"{sandbox().tracker.base}/rest/api/2/issue/{key}"}, 201)


def _user(account_id: str) -> dict[str, Any]:
    with sandbox().tracker.store.read() as state:
        user = state["users"].get(account_id)
        if user is None:
            raise SandboxError(
                404, f"Specified user does not exist or you do not have required permissions: {account_id}"
            )
        return dict(user)


def _compile(jql: str) -> list[Callable[[dict[str, Any]], bool]]:
    text = re.split(r"\border\s+by\b", jql, flags=re.IGNORECASE)[0].strip()
    clauses = [c.strip() for c in re.split(r"\s+and\s+", text, flags=re.IGNORECASE) if c.strip()]
    return [_clause(c) for c in clauses]


def _clause(clause: str) -> Callable[[dict[str, Any]], bool]:
    updated = _UPDATED_CLAUSE.match(clause)
    if updated:
        since = time.time() - int(updated.group(1)) * _UNIT_SECONDS[updated.group(2).lower()]
        return lambda issue: _changed_at(issue) >= since
    single = _CLAUSE.match(clause)
    listed = _IN_CLAUSE.match(clause)
    if single:
        field, negate = single.group(1), single.group(2) == "!="
        values = {next(v for v in single.groups()[2:] if v is not None).casefold()}
    elif listed:
        field, negate = listed.group(1), listed.group(2).lower() != "in"
        values = {v.strip().strip("\"'").casefold() for v in listed.group(3).split(",") if v.strip()}
    else:
        raise SandboxError(400, f"The sandbox does not understand the JQL clause '{clause}'.")
    read = _FIELDS.get(field.lower())
    if read is None:
        raise SandboxError(400, f"Field '{field}' does not exist or you do not have permission to view it.")
    return lambda issue: bool(values & {v.casefold() for v in read(issue)}) != negate


def _changed_at(issue: dict[str, Any]) -> float:
    moment = parse_jira_time(str(issue.get("updated") or issue.get("created") or ""))
    return moment.timestamp() if moment else 0.0


_FIELDS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "project": lambda i: [project_of(i["key"])["key"], project_of(i["key"])["id"]],
    "key": lambda i: [i["key"]],
    "issuekey": lambda i: [i["key"]],
    "labels": lambda i: list(i["labels"]),
    "status": lambda i: [shapes.status_name(i["status"]), i["status"]],
    "reporter": lambda i: [i["reporter"]],
}
