"""Jira activities: the workflow's only way to touch the issue. All I/O goes through `JiraGateway`.

They are sync activities (the `jira` package blocks), so the worker runs them on its thread pool. Each takes one
frozen dataclass and is idempotent (see app/jira_gateway); most return a dataclass, four keep the id-or-nothing
results the saved histories hold. Errors leave as `ApplicationError`s whose `type` names the class:
`AuthenticationError`, `ValidationError` and `JiraNotFound` are non-retryable; `JiraUnavailable` (Jira still
failing after the gateway's own bounded retries) and anything unexpected are retryable. Messages never carry
credentials (the gateway builds them from status codes and Jira's messages).
"""

from __future__ import annotations

import _thread
import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.jira_gateway.errors import JiraError
from app.jira_gateway.models import ApproverDecision, Attachment, IssueSnapshot, TransitionOutcome
from app.jira_gateway.models import QuietAnswer as QuietAnswer  # the answer workflow builds one (re-exported)

T = TypeVar("T")

# How often a running Jira activity heartbeats (the workflows give Jira activities a heartbeat timeout of 15 s).
HEARTBEAT_EVERY = 5.0
# Exception class names (from app/jira_gateway/errors.py) that no retry can fix.
PERMANENT = ("AuthenticationError", "ValidationError", "JiraNotFound")


@dataclass(frozen=True)
class StatusCommentInput:
    """The run's status comment body (one comment per run, edited in place)."""

    issue_key: str
    run_key: str
    body: str
    # The comment's id once the run has it ("" before its first write); None: a run from before, which kept the id
    # in an issue property (one more Jira write per run).
    comment_id: str | None = None


@dataclass(frozen=True)
class CommentOnce:
    """A comment Jira must show exactly once for `event_key` (with `quiet`: held back when the same person was
    answered a moment before)."""

    issue_key: str
    event_key: str
    body: str
    quiet: QuietAnswer | None = None


@dataclass(frozen=True)
class TransitionInput:
    """Move the issue to `status` by name; label it with `fallback_label` when no transition leads there."""

    issue_key: str
    status: str
    fallback_label: str | None = None


@dataclass(frozen=True)
class LabelChange:
    """Labels to add and remove."""

    issue_key: str
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RemoteLinkInput:
    """The PR link, upserted by `global_id`."""

    issue_key: str
    global_id: str
    url: str
    title: str


@dataclass(frozen=True)
class AttachmentInput:
    """A text attached to the issue as `filename` (once: a retry finds the first upload)."""

    issue_key: str
    filename: str
    text: str


@dataclass(frozen=True)
class ReadIssueInput:
    """Which issue to read."""

    issue_key: str


@dataclass(frozen=True)
class ApproverQuery:
    """May `account_id` send `verb` for this issue's run (started by `started_by`)?"""

    issue_key: str
    account_id: str
    started_by: str | None
    verb: str


class JiraPort(Protocol):
    """What the activities need of the gateway (app/jira_gateway.JiraGateway)."""

    def upsert_status_comment(self, issue_key: str, run_key: str, body: str, known_id: str | None = None) -> str: ...
    def post_comment_once(self, issue_key: str, event_key: str, body: str, quiet: QuietAnswer | None = None) -> str: ...
    def transition_to(
        self, issue_key: str, status_name: str, fallback_label: str | None = None
    ) -> TransitionOutcome: ...
    def change_labels(self, issue_key: str, add: list[str], remove: list[str]) -> None: ...
    def read_issue(self, issue_key: str) -> IssueSnapshot: ...
    def attach_text(self, issue_key: str, filename: str, text: str) -> Attachment: ...
    def upsert_remote_link(self, issue_key: str, global_id: str, url: str, title: str) -> str | None: ...
    def may_steer(
        self, issue_key: str, account_id: str, started_by: str | None = None, verb: str = ""
    ) -> ApproverDecision: ...


@contextmanager
def _classified() -> Iterator[None]:
    """Re-raise gateway errors as ApplicationErrors typed by class, non-retryable when permanent."""
    try:
        yield
    except ApplicationError:
        raise
    except Exception as err:
        name = type(err).__name__
        # Jira's status goes along as the one detail, so a revoked token (401) reads apart from a missing permission.
        status = [err.status] if isinstance(err, JiraError) and err.status is not None else []
        raise ApplicationError(str(err), *status, type=name, non_retryable=name in PERMANENT) from err


@contextmanager
def heartbeating() -> Iterator[None]:
    """Heartbeat every few seconds while a blocking Jira call runs (it may retry for minutes), so Temporal learns
    within the heartbeat timeout that a worker died mid-write and retries the write elsewhere, instead of waiting
    out the whole start-to-close timeout with the issue's outbox stalled behind it."""
    if not activity.in_activity():
        yield
        return
    stop = threading.Event()
    context = contextvars.copy_context()  # the activity's context, for a heartbeat from another thread

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY):
            try:
                context.run(activity.heartbeat)
            except RuntimeError:  # the activity has just ended
                return

    # The low-level start does not wait for the new thread to announce itself, as threading.Thread.start does: a
    # thread killed at birth (a cancellation the SDK raises by thread id can land in it) then costs this call its
    # heartbeats, never the activity hung in start() for good, which a test run once showed.
    _thread.start_new_thread(beat, ())
    try:
        yield
    finally:
        stop.set()  # the beat ends at its next wake-up; nothing waits for it


class JiraActivities:
    """The Jira writes and reads of a run, each idempotent."""

    def __init__(self, gateway: JiraPort) -> None:
        self.gateway = gateway

    def _call(self, fn: Callable[[], T]) -> T:
        with _classified(), heartbeating():
            return fn()

    # These four return what they returned when the saved workflow histories (tests/fixtures/histories) were
    # recorded: a str id or None. Changing a result type breaks the replay of runs already in flight.

    @activity.defn
    def upsert_status_comment(self, comment: StatusCommentInput) -> str:
        """Create the run's status comment once, then edit it in place; returns its id."""
        g = self.gateway
        c = comment
        return str(self._call(lambda: g.upsert_status_comment(c.issue_key, c.run_key, c.body, c.comment_id)))

    @activity.defn
    def post_comment_once(self, comment: CommentOnce) -> str:
        """Post a comment at most once per event key; returns its id ("" when `quiet` held it back)."""
        g = self.gateway
        c = comment
        return str(self._call(lambda: g.post_comment_once(c.issue_key, c.event_key, c.body, c.quiet)))

    @activity.defn
    def transition_issue(self, move: TransitionInput) -> TransitionOutcome:
        """Move the issue by status name (checked before and after), or label it when there is no such status."""
        return self._call(lambda: self.gateway.transition_to(move.issue_key, move.status, move.fallback_label))

    @activity.defn
    def change_labels(self, change: LabelChange) -> None:
        """Add and remove labels, in one edit of the issue."""
        if change.add or change.remove:
            self._call(lambda: self.gateway.change_labels(change.issue_key, list(change.add), list(change.remove)))

    @activity.defn
    def upsert_remote_link(self, link: RemoteLinkInput) -> None:
        """Add or update the PR link (by global id)."""
        g = self.gateway
        self._call(lambda: g.upsert_remote_link(link.issue_key, link.global_id, link.url, link.title))

    @activity.defn
    def attach_text(self, attachment: AttachmentInput) -> Attachment:
        """Attach a text to the issue once (the whole of a phase's work too long for a comment)."""
        g = self.gateway
        return self._call(lambda: g.attach_text(attachment.issue_key, attachment.filename, attachment.text))

    @activity.defn
    def read_issue(self, target: ReadIssueInput) -> IssueSnapshot:
        """Read the fields the run uses."""
        return self._call(lambda: self.gateway.read_issue(target.issue_key))

    @activity.defn
    def check_approver(self, query: ApproverQuery) -> ApproverDecision:
        """May this account steer this issue's run?"""
        return self._call(
            lambda: self.gateway.may_steer(query.issue_key, query.account_id, query.started_by, query.verb)
        )
