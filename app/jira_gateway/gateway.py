"""`JiraGateway`: every Jira call of the service, each operation idempotent and retried as a whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from jira import JIRA

from app.config import JiraSettings
from app.jira_gateway.approvers import ApprovalPolicy, ApproverCheck
from app.jira_gateway.attachments import AttachmentOps
from app.jira_gateway.client import JiraTransport, build_client
from app.jira_gateway.comments import CommentOps
from app.jira_gateway.groups import group_ids
from app.jira_gateway.issues import IssueOps
from app.jira_gateway.models import (
    ApproverDecision,
    Attachment,
    Comment,
    IssueSnapshot,
    QuietAnswer,
    StatusMove,
    TransitionOutcome,
)
from app.jira_gateway.retry import RetryPolicy

T = TypeVar("T")


class JiraGateway:
    """The bot's Jira: comments, status comment, transitions, labels, remote links, attachments, approver checks."""

    def __init__(
        self,
        settings: JiraSettings,
        approval: ApprovalPolicy | None = None,
        *,
        client: JIRA | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        connections: int = 10,
    ) -> None:
        self.settings = settings
        self.http = JiraTransport(client or build_client(settings, connections=connections))
        self.retry = RetryPolicy(settings.retry_budget.total_seconds(), sleep=sleep, clock=clock)
        self._bot: str | None = settings.bot_account_id
        self._bot_lock = threading.Lock()
        self.issues = IssueOps(self.http)
        self.comments = CommentOps(self.http, self._bot_account_id_once)
        self.attachments = AttachmentOps(self.http, self._bot_account_id_once)
        self.approvers = ApproverCheck(
            self.http, approval or ApprovalPolicy(), self._bot_account_id_once, self.issues.read_issue
        )

    def upsert_status_comment(self, issue_key: str, run_key: str, body: str, known_id: str | None = None) -> str:
        """Create the run's one status comment, or edit it in place (`known_id`: its id, when the run has it);
        returns the comment id."""
        return self._retried(
            lambda: self.comments.upsert_status(issue_key, run_key, body, known_id), f"status comment {issue_key}"
        )

    def post_comment_once(self, issue_key: str, event_key: str, body: str, quiet: QuietAnswer | None = None) -> str:
        """Post `body` exactly once for `event_key`, even when retried after a lost answer; returns its id ("" when
        `quiet` held an answer back: the same person was answered a moment before)."""
        return self._retried(lambda: self.comments.post_once(issue_key, event_key, body, quiet), f"comment {issue_key}")

    def list_comments(self, issue_key: str) -> list[Comment]:
        """Every comment on the issue (every page), oldest first."""
        return self._retried(lambda: self.comments.list_comments(issue_key), f"comments of {issue_key}")

    def transition_to(self, issue_key: str, status_name: str, fallback_label: str | None = None) -> TransitionOutcome:
        """Move the issue to a status by name (or label it when no transition leads there)."""
        return self._retried(
            lambda: self.issues.transition_to(issue_key, status_name, fallback_label),
            f"transition {issue_key} to {status_name}",
        )

    def add_labels(self, issue_key: str, labels: list[str]) -> None:
        """Add labels (only those missing)."""
        self._retried(lambda: self.issues.add_labels(issue_key, labels), f"add labels on {issue_key}")

    def remove_labels(self, issue_key: str, labels: list[str]) -> None:
        """Remove labels (only those present)."""
        self._retried(lambda: self.issues.remove_labels(issue_key, labels), f"remove labels on {issue_key}")

    def change_labels(self, issue_key: str, add: list[str], remove: list[str]) -> None:
        """Add and remove labels in one edit (only those that change)."""
        self._retried(lambda: self.issues.change_labels(issue_key, add, remove), f"change labels on {issue_key}")

    def read_issue(self, issue_key: str) -> IssueSnapshot:
        """Summary, description, labels, status, reporter and project of an issue."""
        return self._retried(lambda: self.issues.read_issue(issue_key), f"read {issue_key}")

    def upsert_remote_link(self, issue_key: str, global_id: str, url: str, title: str) -> str:
        """Create or update the remote link identified by `global_id`; returns its id."""
        return self._retried(
            lambda: self.issues.upsert_remote_link(issue_key, global_id, url, title), f"remote link on {issue_key}"
        )

    def attach_text(self, issue_key: str, filename: str, text: str) -> Attachment:
        """Attach `text` to the issue as `filename`, once (a retry finds the first upload)."""
        return self._retried(lambda: self.attachments.attach_text(issue_key, filename, text), f"attach {filename}")

    def status_moves(self, issue_key: str) -> list[StatusMove]:
        """The issue's recent moves from status to status (its changelog), oldest first."""
        return self._retried(lambda: self.issues.status_moves(issue_key), f"changelog of {issue_key}")

    def trigger_author(self, issue_key: str, label: str, status: str | None) -> str | None:
        """Who last added the trigger label or moved the issue into the trigger status, from its changelog."""
        return self._retried(lambda: self.issues.trigger_author(issue_key, label, status), f"changelog of {issue_key}")

    def search_issue_keys(self, jql: str) -> list[str]:
        """Keys of every issue matching `jql` (all pages)."""
        return self._retried(lambda: self.issues.search_issue_keys(jql), "search")

    def group_ids(self, account_id: str) -> tuple[str, ...]:
        """The ids of the account's groups (none for an unknown account)."""
        return self._retried(lambda: group_ids(self.http, account_id), f"groups of {account_id}")

    def bot_account_id(self) -> str:
        """The bot's own account id (`JIRA_BOT_ACCOUNT_ID`, else `/myself` once per process)."""
        return self._retried(self._bot_account_id_once, "myself")

    def may_steer(
        self, issue_key: str, account_id: str, started_by: str | None = None, verb: str = ""
    ) -> ApproverDecision:
        """May `account_id` send `verb` to the run on `issue_key`? (rules in approvers.py)."""
        return self._retried(
            lambda: self.approvers.may_steer(issue_key, account_id, started_by, verb), f"approver check {issue_key}"
        )

    def _bot_account_id_once(self) -> str:
        with self._bot_lock:
            if self._bot is None:
                self._bot = self.issues.myself()
            return self._bot

    def _retried(self, fn: Callable[[], T], what: str) -> T:
        return self.retry.call(fn, what)
