"""What people and the bot do to sandbox issues; every change records its webhook in the outbox (same write)."""

from __future__ import annotations

import re
from typing import Any

from app.sandbox import shapes
from app.sandbox.seed import DONE, PROJECT, PROJECTS, TRANSITIONS, next_key, transitions_from
from app.sandbox.store import StateFile


class SandboxError(Exception):
    """A request the sandbox refuses, with the HTTP status and Jira's error messages."""

    def __init__(self, status: int, *messages: str, **field_errors: str) -> None:
        super().__init__("; ".join(messages) or str(field_errors))
        self.status = status
        self.body = shapes.errors_json(*messages, **field_errors)


class Tracker:
    """The sandbox's issues, comments, transitions, labels, properties and remote links."""

    def __init__(self, store: StateFile, base_url: str, comment_twins: bool = True) -> None:
        self.comment_twins = comment_twins
        self.store = store
        self.base = base_url

    # --- lookups (call with the lock held, through store.read() or store.change()) ---

    def issue(self, state: dict[str, Any], key_or_id: str) -> dict[str, Any]:
        """The issue by key (case-insensitive) or id, else 404 as Jira says it."""
        found: dict[str, Any] | None = state["issues"].get(key_or_id.upper()) or next(
            (i for i in state["issues"].values() if i["id"] == key_or_id), None
        )
        if found is None:
            raise SandboxError(404, "Issue does not exist or you do not have permission to see it.")
        return found

    def comment(self, issue: dict[str, Any], comment_id: str) -> dict[str, Any]:
        """A comment of the issue, else 404."""
        comments: list[dict[str, Any]] = issue["comments"]
        for comment in comments:
            if comment["id"] == comment_id:
                return comment
        raise SandboxError(404, f"Can not find a comment for the id: {comment_id}.")

    def find_comment(self, state: dict[str, Any], comment_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(issue, comment) for a comment id on any issue, else 404."""
        for issue in state["issues"].values():
            for comment in issue["comments"]:
                if comment["id"] == comment_id:
                    return issue, comment
        raise SandboxError(404, f"Can not find a comment for the id: {comment_id}.")

    def find_attachment(self, state: dict[str, Any], attachment_id: str) -> dict[str, Any]:
        """An attachment by id on any issue, else 404."""
        for issue in state["issues"].values():
            for attachment in issue.get("attachments", []):
                if attachment["id"] == attachment_id:
                    found: dict[str, Any] = attachment
                    return found
        raise SandboxError(404, f"The attachment with id '{attachment_id}' does not exist.")

    def user_by_name(self, name: str) -> dict[str, Any]:
        """A sandbox user by short name (`reviewer`) or account id."""
        with self.store.read() as state:
            for user in state["users"].values():
                if name in (user["name"], user["accountId"]):
                    return dict(user)
        raise SandboxError(404, f"No sandbox user {name!r}; try reviewer, reporter, outsider or bot.")

    def available_transitions(self, issue: dict[str, Any], user: dict[str, Any]) -> list[dict[str, Any]]:
        """Transitions from the issue's status for this user (none without *Transition issues*, like Jira)."""
        if "TRANSITION_ISSUES" not in user["permissions"]:
            return []
        return [
            {
                "id": TRANSITIONS[target][0],
                "name": TRANSITIONS[target][1],
                "to": shapes.status_json(target, self.base),
                "hasScreen": False,
                "isGlobal": False,
                "isInitial": False,
                "isConditional": False,
            }
            for target in transitions_from(issue["status"])
        ]

    # --- changes ---

    def create_issue(
        self, actor: dict[str, Any], summary: str, description: str, labels: list[str], project: str = PROJECT["key"]
    ) -> str:
        """A new issue in `project` (DEMO or OPS); sends `jira:issue_created`."""
        if project not in PROJECTS:
            raise SandboxError(400, project="valid project is required")
        if not summary.strip():
            raise SandboxError(400, summary="You must specify a summary of the issue.")
        with self.store.change() as state:
            issue_id = self.store.next_id("issue")
            key = next_key(project, list(state["issues"]))
            now = shapes.jira_time()
            state["issues"][key] = {
                "id": issue_id, "key": key, "summary": summary, "description": description,
                "labels": _valid_labels(labels), "status": "10001", "resolution": None,
                "reporter": actor["accountId"], "created": now, "updated": now,
                "comments": [], "properties": {}, "remotelinks": [], "history": [],
            }  # fmt: skip
            issue = state["issues"][key]
            body = shapes.issue_event("jira:issue_created", issue, state["users"], actor["accountId"], self.base, None)
            self.store.enqueue("jira:issue_created", body)
            return key

    def add_comment(
        self, key: str, actor: dict[str, Any], body: str, properties: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Add a comment (with its properties, atomically); sends `comment_created` (and its `issue_commented` twin)."""
        if not body.strip():
            raise SandboxError(400, body="Comment body can not be empty!")
        with self.store.change() as state:
            issue = self.issue(state, key)
            now = shapes.jira_time()
            comment = {
                "id": self.store.next_id("comment"), "author": actor["accountId"], "updateAuthor": actor["accountId"],
                "body": body, "created": now, "updated": now, "properties": dict(properties or {}),
            }  # fmt: skip
            issue["comments"].append(comment)
            issue["updated"] = now
            event = shapes.comment_event("comment_created", issue, comment, state["users"], self.base)
            self.store.enqueue("comment_created", event)
            # Cloud also raises `jira:issue_updated` (issue_commented) carrying the comment (FACTS.md §1.7): a
            # site subscribed to both events, as the README sets it up, receives the comment twice.
            if self.comment_twins:
                twin = shapes.issue_event(
                    "jira:issue_updated", issue, state["users"], actor["accountId"], self.base, None
                )
                twin |= {"issue_event_type_name": "issue_commented", "comment": event["comment"]}
                self.store.enqueue("jira:issue_updated", twin)
            return shapes.comment_json(issue, comment, state["users"], self.base)

    def update_comment(self, key: str, comment_id: str, actor: dict[str, Any], body: str) -> dict[str, Any]:
        """Replace a comment's body (author or admin only); sends `comment_updated`."""
        if not body.strip():
            raise SandboxError(400, body="Comment body can not be empty!")
        with self.store.change() as state:
            issue = self.issue(state, key)
            comment = self.comment(issue, comment_id)
            if comment["author"] != actor["accountId"] and not actor["admin"]:
                raise SandboxError(403, "You do not have the permission to edit this comment.")
            comment.update(body=body, updateAuthor=actor["accountId"], updated=shapes.jira_time())
            event = shapes.comment_event("comment_updated", issue, comment, state["users"], self.base)
            self.store.enqueue("comment_updated", event)
            return shapes.comment_json(issue, comment, state["users"], self.base)

    def edit_labels(self, key: str, actor: dict[str, Any], add: list[str], remove: list[str]) -> None:
        """Add and remove labels; when the set changes, sends `jira:issue_updated` with full before/after strings."""
        _require(actor, "EDIT_ISSUES")
        with self.store.change() as state:
            issue = self.issue(state, key)
            before = list(issue["labels"])
            after = [label for label in before if label not in remove]
            after += [label for label in dict.fromkeys(_valid_labels(add)) if label not in after]
            if after == before:
                return
            issue["labels"] = after
            item = {"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None,
                    "fromString": " ".join(before), "to": None, "toString": " ".join(after)}  # fmt: skip
            self._changed(state, issue, actor, [item])

    def transition(self, key: str, actor: dict[str, Any], transition_id: str) -> None:
        """Apply a transition valid from the current status; sends `jira:issue_updated` (status ids in from/to)."""
        with self.store.change() as state:
            issue = self.issue(state, key)
            valid = {t["id"]: t["to"]["id"] for t in self.available_transitions(issue, actor)}
            if transition_id not in valid:
                raise SandboxError(400, f"Transition id '{transition_id}' is not valid for this issue.")
            target, source = valid[transition_id], issue["status"]
            items = []
            if target == DONE or source == DONE:
                done = target == DONE
                items.append({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                              "from": None if done else "10000", "fromString": None if done else "Done",
                              "to": "10000" if done else None, "toString": "Done" if done else None})  # fmt: skip
                issue["resolution"] = {"id": "10000", "name": "Done"} if done else None
            items.append({"field": "status", "fieldtype": "jira", "fieldId": "status",
                          "from": source, "fromString": shapes.status_name(source),
                          "to": target, "toString": shapes.status_name(target)})  # fmt: skip
            issue["status"] = target
            self._changed(state, issue, actor, items)

    def upsert_remote_link(self, key: str, global_id: str | None, link: dict[str, Any]) -> tuple[str, bool]:
        """Create a remote link, or update the one with this `globalId`; returns (id, created)."""
        with self.store.change() as state:
            issue = self.issue(state, key)
            for existing in issue["remotelinks"]:
                if global_id and existing.get("globalId") == global_id:
                    # Jira: "Any fields without values in the request are set to null", so replace, not merge.
                    link_id = existing["id"]
                    existing.clear()
                    existing.update({**link, "id": link_id, "globalId": global_id})
                    return link_id, False
            link_id = self.store.next_id("link")
            issue["remotelinks"].append({**link, "id": link_id, "globalId": global_id})
            return link_id, True

    def add_attachment(self, key: str, actor: dict[str, Any], filename: str, content: bytes) -> dict[str, Any]:
        """Attach a file to the issue (kept as text: the bot attaches only text); returns its REST shape."""
        with self.store.change() as state:
            issue = self.issue(state, key)
            attachment = {
                "id": self.store.next_id("attachment"),
                "filename": filename,
                "size": len(content),
                "mimeType": "text/markdown" if filename.endswith(".md") else "text/plain",
                "created": shapes.jira_time(),
                "author": actor["accountId"],
                "text": content.decode("utf-8", errors="replace"),
            }
            issue.setdefault("attachments", []).append(attachment)
            return shapes.attachment_json(attachment, state["users"], self.base)

    def _changed(
        self, state: dict[str, Any], issue: dict[str, Any], actor: dict[str, Any], items: list[dict[str, Any]]
    ) -> None:
        changelog = {"id": self.store.next_id("changelog"), "items": items}
        issue["updated"] = shapes.jira_time()
        issue["history"].append(
            {"id": changelog["id"], "author": actor["accountId"], "created": issue["updated"], "items": items}
        )
        body = shapes.issue_event("jira:issue_updated", issue, state["users"], actor["accountId"], self.base, changelog)
        self.store.enqueue("jira:issue_updated", body)


def _require(user: dict[str, Any], permission: str) -> None:
    if permission not in user["permissions"]:
        raise SandboxError(403, f"You do not have the {permission} permission on this issue.")


def _valid_labels(labels: list[str]) -> list[str]:
    for label in labels:
        if not label or re.search(r"\s", label) or len(label) > 255:
            raise SandboxError(400, labels=f"The label '{label}' contains spaces or is empty or too long.")
    return list(labels)
