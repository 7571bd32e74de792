"""Acting as a sandbox person over the sandbox's own REST API (what `orchestrator sandbox ...` does).

Going through HTTP, not the state file, means the running sandbox sees the change and sends its webhook,
exactly as when a person clicks in Jira.
"""

from __future__ import annotations

from typing import Any

import requests

from app.sandbox.seed import USERS

TIMEOUT = (5.0, 30.0)


class SandboxUnavailable(Exception):
    """The sandbox Jira is not running where the settings say, or it refused the request."""


class SandboxPerson:
    """One sandbox user (`reviewer`, `reporter`, `outsider`, `bot`) talking to the sandbox."""

    def __init__(self, base_url: str, name: str) -> None:
        user = next((u for u in USERS if name in (u["name"], u["accountId"])), None)
        if user is None:
            names = ", ".join(u["name"] for u in USERS)
            raise SandboxUnavailable(f"no sandbox user {name!r}; choose one of {names}")
        self.base = base_url.rstrip("/")
        self.name = user["name"]
        self.session = requests.Session()
        self.session.auth = (user["email"], user["token"])

    def comment(self, key: str, text: str) -> str:
        """Add a comment; returns its id."""
        return str(self._call("POST", f"issue/{key}/comment", {"body": text})["id"])

    def label(self, key: str, label: str, remove: bool = False) -> None:
        """Add (or remove) a label."""
        self._call("PUT", f"issue/{key}", {"update": {"labels": [{"remove" if remove else "add": label}]}})

    def transition(self, key: str, status: str) -> None:
        """Move the issue to the status named `status`, through the transition that leads there."""
        transitions = self._call("GET", f"issue/{key}/transitions")["transitions"]
        for transition in transitions:
            if transition["to"]["name"].casefold() == status.casefold():
                self._call("POST", f"issue/{key}/transitions", {"transition": {"id": transition["id"]}})
                return
        offered = ", ".join(t["to"]["name"] for t in transitions) or "none"
        raise SandboxUnavailable(f"{self.name} cannot move {key} to {status!r} (possible: {offered})")

    def create(
        self, summary: str, description: str = "", labels: list[str] | None = None, project: str = "DEMO"
    ) -> str:
        """Create an issue in `project` (DEMO or OPS); returns its key."""
        fields = {"project": {"key": project}, "summary": summary, "description": description, "labels": labels or []}
        return str(self._call("POST", "issue", {"fields": fields})["key"])

    def show(self, key: str) -> str:
        """The issue as text: summary, status, labels, links and every comment."""
        issue = self._call("GET", f"issue/{key}")
        fields = issue["fields"]
        lines = [f"{issue['key']}: {fields['summary']}", f"  status: {fields['status']['name']}"]
        lines.append(f"  labels: {', '.join(fields['labels']) or '(none)'}")
        for link in self._call("GET", f"issue/{key}/remotelink"):
            lines.append(f"  link: {link['object']['title']} {link['object']['url']}")
        comments = self._comments(key)
        lines.append(f"  comments ({len(comments)}):")
        for comment in comments:
            author = (comment.get("author") or {}).get("displayName", "?")
            lines.append(f"  - {author} at {comment['created'][:19]}:")
            lines += [f"      {line}" for line in comment["body"].splitlines() or [""]]
        return "\n".join(lines)

    def _comments(self, key: str) -> list[dict[str, Any]]:
        comments: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", f"issue/{key}/comment?startAt={len(comments)}&maxResults=100")
            comments += page["comments"]
            if not page["comments"] or len(comments) >= page["total"]:
                return comments

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.base}/rest/api/2/{path}"
        try:
            response = self.session.request(method, url, json=body, timeout=TIMEOUT)
        except requests.ConnectionError:
            raise SandboxUnavailable(
                f"the sandbox Jira at {self.base} is not running (start it with `orchestrator sandbox serve` "
                "or `make run`)"
            ) from None
        if response.status_code >= 400:
            raise SandboxUnavailable(f"the sandbox Jira answered {response.status_code}: {_messages(response)}")
        return response.json() if response.content else None


def _messages(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    parts = list(data.get("errorMessages") or []) + [f"{k}: {v}" for k, v in (data.get("errors") or {}).items()]
    return "; ".join(str(p) for p in parts) or "no details"
