"""Jira activities: the workflow's only way to touch the issue. All I/O goes through `JiraGateway`.

They are sync activities (the `jira` package blocks), so the worker runs them on its thread pool. Each takes one
frozen dataclass and is idempotent (see app/jira_gateway); most return a dataclass, four keep the id-or-nothing
results the saved histories hold. Errors leave as `ApplicationError`s whose `type` names the class:
`AuthenticationError`, `ValidationError` and `JiraNotFound` are non-retryable; `JiraUnavailable` (Jira still
failing after the gateway's own bounded retries) and anything unexpected are retryable. Messages never carry
credentials (the gateway builds them from status codes and Jira's messages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

T = TypeVar("T")

# Exception class names (from app/jira_gateway/errors.py) that no retry can fix.
PERMANENT = {"AuthenticationError", "ValidationError", "JiraNotFound"}


@dataclass(frozen=True)
class StatusCommentInput:
    """The run's status comment body (one comment per run, edited in place)."""

    issue_key: str
    run_key: str
    body: str


@dataclass(frozen=True)
class CommentOnce:
    """A comment Jira must show exactly once for `event_key`."""

    issue_key: str
    event_key: str
    body: str


@dataclass(frozen=True)
class TransitionInput:
    """Move the issue to `status` by name; label it with `fallback_label` when no transition leads there."""

    issue_key: str
    status: str
    fallback_label: str | None = None


@dataclass(frozen=True)
class TransitionResult:
    """Where the issue ended up and how: `transitioned`, `already`, `labelled` (then `label` says which)."""

    status: str
    how: str
    label: str | None = None
    message: str = ""


@dataclass(frozen=True)
class LabelChange:
    """Labels to add and remove."""

    issue_key: str
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LabelsInput:
    """Labels to add, or to remove."""

    issue_key: str
    labels: list[str]


@dataclass(frozen=True)
class LabelsResult:
    """The labels asked to be added and removed (already present/absent ones cost no write)."""

    added: list[str]
    removed: list[str]


@dataclass(frozen=True)
class RemoteLinkInput:
    """The PR link, upserted by `global_id`."""

    issue_key: str
    global_id: str
    url: str
    title: str


@dataclass(frozen=True)
class ReadIssueInput:
    """Which issue to read."""

    issue_key: str


@dataclass(frozen=True)
class IssueSnapshot:
    """The fields of an issue the run uses (`reporter` is an account id; text is untrusted wiki markup)."""

    key: str
    summary: str
    description: str
    labels: list[str]
    status: str
    reporter: str | None
    project_key: str


@dataclass(frozen=True)
class ApproverQuery:
    """May `account_id` send `verb` for this issue's run (started by `started_by`)?"""

    issue_key: str
    account_id: str
    started_by: str | None
    verb: str


@dataclass(frozen=True)
class ApproverDecision:
    """The answer, why, and who may approve (for the refusal message); `is_bot` marks our own echoes."""

    allowed: bool
    reason: str
    who_may_approve: str
    is_bot: bool = False


class IssueView(Protocol):
    """What the activities read of the gateway's issue snapshot."""

    @property
    def key(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def labels(self) -> tuple[str, ...] | list[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def reporter(self) -> str | None: ...
    @property
    def project_key(self) -> str: ...


class MoveView(Protocol):
    """What the activities read of the gateway's transition outcome."""

    @property
    def status(self) -> str: ...
    @property
    def how(self) -> str: ...


class SteerView(Protocol):
    """What the activities read of the gateway's approver decision."""

    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def who_may_approve(self) -> str: ...
    @property
    def is_bot(self) -> bool: ...


class JiraPort(Protocol):
    """What the activities need of the gateway (app/jira_gateway.JiraGateway)."""

    def upsert_status_comment(self, issue_key: str, run_key: str, body: str) -> str: ...
    def post_comment_once(self, issue_key: str, event_key: str, body: str) -> str: ...
    def transition_to(self, issue_key: str, status_name: str, fallback_label: str | None = None) -> MoveView: ...
    def add_labels(self, issue_key: str, labels: list[str]) -> None: ...
    def remove_labels(self, issue_key: str, labels: list[str]) -> None: ...
    def read_issue(self, issue_key: str) -> IssueView: ...
    def upsert_remote_link(self, issue_key: str, global_id: str, url: str, title: str) -> str | None: ...
    def may_steer(
        self, issue_key: str, account_id: str, started_by: str | None = None, verb: str = ""
    ) -> SteerView: ...


@contextmanager
def _classified() -> Iterator[None]:
    """Re-raise gateway errors as ApplicationErrors typed by class, non-retryable when permanent."""
    try:
        yield
    except ApplicationError:
        raise
    except Exception as err:
        name = type(err).__name__
        raise ApplicationError(str(err), type=name, non_retryable=name in PERMANENT) from err


class JiraActivities:
    """The Jira writes and reads of a run, each idempotent."""

    def __init__(self, gateway: JiraPort) -> None:
        self.gateway = gateway

    def _call(self, fn: Callable[[], T]) -> T:
        with _classified():
            return fn()

    # These four return what they returned when the saved workflow histories (tests/fixtures/histories) were
    # recorded: a str id or None. Changing a result type breaks the replay of runs already in flight.

    @activity.defn
    def upsert_status_comment(self, comment: StatusCommentInput) -> str:
        """Create the run's status comment once, then edit it in place; returns its id."""
        g = self.gateway
        return str(self._call(lambda: g.upsert_status_comment(comment.issue_key, comment.run_key, comment.body)))

    @activity.defn
    def post_comment_once(self, comment: CommentOnce) -> str:
        """Post a comment at most once per event key; returns its id."""
        g = self.gateway
        return str(self._call(lambda: g.post_comment_once(comment.issue_key, comment.event_key, comment.body)))

    @activity.defn
    def transition_issue(self, move: TransitionInput) -> TransitionResult:
        """Move the issue by status name (checked before and after), or label it when there is no such status."""
        outcome = self._call(lambda: self.gateway.transition_to(move.issue_key, move.status, move.fallback_label))
        return TransitionResult(
            status=outcome.status,
            how=outcome.how,
            label=getattr(outcome, "label", None),
            message=getattr(outcome, "message", ""),
        )

    @activity.defn
    def add_labels(self, change: LabelsInput) -> LabelsResult:
        """Add labels."""
        self._call(lambda: self.gateway.add_labels(change.issue_key, list(change.labels)))
        return LabelsResult(added=list(change.labels), removed=[])

    @activity.defn
    def remove_labels(self, change: LabelsInput) -> LabelsResult:
        """Remove labels."""
        self._call(lambda: self.gateway.remove_labels(change.issue_key, list(change.labels)))
        return LabelsResult(added=[], removed=list(change.labels))

    @activity.defn
    def change_labels(self, change: LabelChange) -> None:
        """Add and remove labels."""
        if change.add:
            self._call(lambda: self.gateway.add_labels(change.issue_key, list(change.add)))
        if change.remove:
            self._call(lambda: self.gateway.remove_labels(change.issue_key, list(change.remove)))

    @activity.defn
    def upsert_remote_link(self, link: RemoteLinkInput) -> None:
        """Add or update the PR link (by global id)."""
        g = self.gateway
        self._call(lambda: g.upsert_remote_link(link.issue_key, link.global_id, link.url, link.title))

    @activity.defn
    def read_issue(self, target: ReadIssueInput) -> IssueSnapshot:
        """Read the fields the run uses."""
        issue = self._call(lambda: self.gateway.read_issue(target.issue_key))
        return IssueSnapshot(
            key=issue.key,
            summary=issue.summary,
            description=issue.description or "",
            labels=list(issue.labels),
            status=issue.status,
            reporter=issue.reporter,
            project_key=issue.project_key,
        )

    @activity.defn
    def check_approver(self, query: ApproverQuery) -> ApproverDecision:
        """May this account steer this issue's run?"""
        decision = self._call(
            lambda: self.gateway.may_steer(query.issue_key, query.account_id, query.started_by, query.verb)
        )
        return ApproverDecision(
            allowed=bool(decision.allowed),
            reason=str(decision.reason),
            who_may_approve=str(decision.who_may_approve),
            is_bot=bool(getattr(decision, "is_bot", False)),
        )
