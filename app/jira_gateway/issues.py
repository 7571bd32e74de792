"""Issue reads and idempotent issue writes: snapshot, labels, transitions by status name, remote links, search."""

from __future__ import annotations

from typing import Any

from app.jira_gateway.client import JiraTransport
from app.jira_gateway.errors import ValidationError
from app.jira_gateway.models import IssueSnapshot, StatusMove, TransitionOutcome

SNAPSHOT_FIELDS = "summary,description,labels,status,reporter,project"
SEARCH_PAGE = 100


class IssueOps:
    """What the bot reads and changes on an issue, each write checked against Jira first."""

    def __init__(self, http: JiraTransport) -> None:
        self.http = http

    def read_issue(self, issue_key: str) -> IssueSnapshot:
        """The fields a run uses."""
        raw = self.http.get(f"issue/{issue_key}", fields=SNAPSHOT_FIELDS)
        fields: dict[str, Any] = raw.get("fields") or {}
        status = fields.get("status") or {}
        reporter = fields.get("reporter") or {}
        return IssueSnapshot(
            key=str(raw.get("key", issue_key)),
            summary=str(fields.get("summary") or ""),
            description=str(fields.get("description") or ""),
            labels=tuple(str(label) for label in fields.get("labels") or []),
            status=str(status.get("name", "")),
            status_id=str(status.get("id", "")),
            reporter=reporter.get("accountId"),
            project_key=str((fields.get("project") or {}).get("key", issue_key.rpartition("-")[0])),
            issue_id=str(raw.get("id", "")),
        )

    def add_labels(self, issue_key: str, labels: list[str]) -> None:
        """Add the labels that are missing (nothing is written when all are there already)."""
        present = set(self.read_issue(issue_key).labels)
        self._edit_labels(issue_key, [{"add": label} for label in dict.fromkeys(labels) if label not in present])

    def remove_labels(self, issue_key: str, labels: list[str]) -> None:
        """Remove the labels that are present."""
        present = set(self.read_issue(issue_key).labels)
        self._edit_labels(issue_key, [{"remove": label} for label in dict.fromkeys(labels) if label in present])

    def change_labels(self, issue_key: str, add: list[str], remove: list[str]) -> None:
        """Add the missing labels and remove the present ones in one edit (nothing is written when none change)."""
        present = set(self.read_issue(issue_key).labels)
        adds = [{"add": label} for label in dict.fromkeys(add) if label not in present]
        removes = [{"remove": label} for label in dict.fromkeys(remove) if label in present and label not in add]
        self._edit_labels(issue_key, adds + removes)

    def transition_to(self, issue_key: str, status_name: str, fallback_label: str | None = None) -> TransitionOutcome:
        """Move the issue to the status named `status_name` (skipped when there already), read back after.

        Transitions are looked up by their target status for this issue and this caller, never by hard-coded
        id. When none leads there, `fallback_label` is added instead and the outcome says so.
        """
        current = self.read_issue(issue_key).status
        if current.casefold() == status_name.casefold():
            return TransitionOutcome(current, "already")
        transitions = self.http.get(f"issue/{issue_key}/transitions").get("transitions") or []
        match = next((t for t in transitions if _target(t).casefold() == status_name.casefold()), None)
        if match is None:
            offered = ", ".join(sorted({_target(t) for t in transitions})) or "none"
            message = f"no transition leads from {current} to {status_name} (reachable: {offered})"
            if fallback_label is None:
                raise ValidationError(f"{issue_key}: {message}")
            self.add_labels(issue_key, [fallback_label])
            return TransitionOutcome(current, "labelled", fallback_label, f"{message}; labelled {fallback_label}")
        self.http.post(f"issue/{issue_key}/transitions", {"transition": {"id": str(match["id"])}})
        after = self.read_issue(issue_key).status
        message = "" if after.casefold() == status_name.casefold() else f"Jira reports {after} after the transition"
        return TransitionOutcome(after, "transitioned", None, message)

    def upsert_remote_link(self, issue_key: str, global_id: str, url: str, title: str) -> str:
        """Create or update the remote link with this `globalId` (Jira upserts by it); return its id."""
        answer = self.http.post(
            f"issue/{issue_key}/remotelink", {"globalId": global_id, "object": {"url": url, "title": title}}
        )
        return str((answer or {}).get("id", ""))

    def search_issue_keys(self, jql: str) -> list[str]:
        """Keys of every issue matching `jql`, across pages (`/search/jql`, Cloud's token-paged search)."""
        keys: list[str] = []
        token: str | None = None
        while True:
            page = self.http.get("search/jql", jql=jql, fields="key", maxResults=SEARCH_PAGE, nextPageToken=token)
            keys += [str(issue["key"]) for issue in page.get("issues") or []]
            token = page.get("nextPageToken")
            if not token:
                return keys

    def status_moves(self, issue_key: str) -> list[StatusMove]:
        """The issue's status changes in its changelog (`expand=changelog`: the most recent ones), oldest first."""
        return [move for move in self._changes(issue_key, "status") if move.to_status]

    def trigger_author(self, issue_key: str, label: str, status: str | None) -> str | None:
        """Who last added the trigger label or moved the issue into the trigger status (its changelog), if anyone."""
        author = None
        for change in self._changes(issue_key, "labels", "status"):
            if change.field == "labels":
                added = label in change.to_status.split() and label not in change.from_string.split()
            else:
                added = status is not None and change.to_status.casefold() == status.casefold()
            if added:
                author = change.author
        return author

    def _changes(self, issue_key: str, *fields: str) -> list[StatusMove]:
        raw = self.http.get(f"issue/{issue_key}", fields="status", expand="changelog")
        changes = []
        for history in (raw.get("changelog") or {}).get("histories") or []:
            author = (history.get("author") or {}).get("accountId")
            for item in history.get("items") or []:
                if item.get("field") in fields:
                    changes.append(
                        StatusMove(
                            str(history.get("id", "")),
                            author,
                            str(history.get("created", "")),
                            str(item.get("toString") or ""),
                            field=str(item["field"]),
                            from_string=str(item.get("fromString") or ""),
                        )
                    )
        # Jira Cloud lists the newest first, the sandbox the oldest first; a history id grows with time.
        return sorted(changes, key=lambda change: int(change.history_id) if change.history_id.isdigit() else 0)

    def myself(self) -> str:
        """The account id of whoever the credentials belong to."""
        account_id = (self.http.get("myself") or {}).get("accountId")
        if not isinstance(account_id, str) or not account_id:
            raise ValidationError("GET myself: Jira answered without an accountId")
        return account_id

    def _edit_labels(self, issue_key: str, operations: list[dict[str, str]]) -> None:
        if operations:
            self.http.put(f"issue/{issue_key}", {"update": {"labels": operations}})


def _target(transition: dict[str, Any]) -> str:
    return str((transition.get("to") or {}).get("name", ""))
