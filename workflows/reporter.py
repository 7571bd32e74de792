"""The run's Jira outbox: every write to the issue, delivered in order, retried until Jira takes it.

Writes never block the phases: the workflow queues them here and a background task delivers them.
A Jira outage is waited out (the item stays queued, with backoff up to 5 minutes) rather than dropped.
A refusal no retry fixes (authentication, validation, not found) is handled by what was refused: when a comment
or the status comment is refused, nothing can be said on the issue any more, and the refusal is handed back to
the workflow as `fatal` (the run ends failed, with that cause); any other write (a transition, labels, the PR
link) is dropped, said on the issue in a comment, and the rest is still delivered (a refused transition with a
fallback label adds the label instead). Runs from before that rule keep the old one: any refusal was fatal.
Once a comment is refused for good the outbox is "muted": nothing more is said, but the label changes and
transitions still queued (and those of the failure: the blocked status and label) are delivered, so the board
still shows the run blocked when Jira takes no comment (runs from before that: the queue was dropped).
Each write is idempotent on the Jira side (status comment id in an issue property, comment event keys,
transition checks, remote-link global ids), so a retry after a lost answer changes nothing twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, assert_never

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows.policies import JIRA_CALL, JIRA_HEARTBEAT
from workflows.versions import released
from workflows.wiki import inline

with workflow.unsafe.imports_passed_through():
    from activities.jira import (
        PERMANENT,
        AttachmentInput,
        CommentOnce,
        JiraActivities,
        LabelChange,
        RemoteLinkInput,
        StatusCommentInput,
        TransitionInput,
    )

JIRA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=3,
    non_retryable_error_types=list(PERMANENT),
)
# Every Jira write's activity options (the outbox's and the command answers').
JIRA_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": JIRA_CALL,
    "heartbeat_timeout": JIRA_HEARTBEAT,
    "retry_policy": JIRA_RETRY,
}
MAX_BACKOFF = timedelta(minutes=5)


# One queued write to the issue: its type picks the activity, and it is that activity's one argument.
Write = StatusCommentInput | CommentOnce | TransitionInput | LabelChange | RemoteLinkInput | AttachmentInput
KINDS: dict[type, str] = {
    AttachmentInput: "attachment",
    StatusCommentInput: "status",
    CommentOnce: "comment",
    TransitionInput: "transition",
    LabelChange: "labels",
    RemoteLinkInput: "link",
}


# What a refused write was, for the comment that says so (a refused comment or status write ends the run).
REFUSED_WHAT = {
    "transition": "to move the issue",
    "labels": "to change the issue's labels",
    "link": "to add the pull request link",
    "attachment": "to attach the full text of a phase's work",
}


@dataclass
class Item:
    """One queued write (a box, so a waiting status body can be replaced in place)."""

    payload: Write

    @property
    def kind(self) -> str:
        """`status`, `comment`, `transition`, `labels`, `link` or `attachment` (for logs)."""
        return KINDS[type(self.payload)]


class JiraReporter:
    """Queues writes to one issue and delivers them in order from a background task."""

    def __init__(self, issue_key: str, run_key: str, lean: bool = False) -> None:
        self.issue_key = issue_key
        self.run_key = run_key
        self.lean = lean  # the run's input says so: every patched path is taken without asking (workflows/versions.py)
        # A lean run keeps its status comment's id here (runs from before kept it in an issue property: a write more).
        self.status_comment_id = ""
        self.queue: list[Item] = []
        self.busy = False
        self.fatal: ApplicationError | None = None
        self.refused: set[str] = set()  # kinds of write Jira refused for good, that the run went on without
        self.muted = False  # a comment was refused for good: say nothing more, still mark the issue
        self.delivered = 0

    @property
    def idle(self) -> bool:
        """True when nothing is queued or in flight."""
        return not self.queue and not self.busy

    @property
    def settled(self) -> bool:
        """True when nothing more will be delivered: idle, or stopped by a refusal with nothing left it may send."""
        return self.idle or (self.fatal is not None and not self.muted)

    def status(self, body: str) -> None:
        """Queue the status comment's new body; an older body still queued is replaced, not sent."""
        if self.muted:
            return
        payload = StatusCommentInput(issue_key=self.issue_key, run_key=self.run_key, body=body)
        # The head may be in flight; only a body still waiting behind it can be replaced.
        for item in self.queue[1:] if self.busy else self.queue:
            if isinstance(item.payload, StatusCommentInput):
                item.payload = payload
                return
        self.queue.append(Item(payload))

    def comment(self, event_key: str, body: str) -> None:
        """Queue a comment that Jira must show exactly once for this event key."""
        if self.muted:
            return
        self.queue.append(Item(CommentOnce(self.issue_key, f"{self.run_key}:{event_key}", body)))

    def transition(self, status: str, fallback_label: str | None = None) -> None:
        """Queue a move to `status` (by name), labelling instead when the workflow has no such status."""
        self.queue.append(Item(TransitionInput(self.issue_key, status, fallback_label)))

    def labels(self, add: list[str] | None = None, remove: list[str] | None = None) -> None:
        """Queue a label change."""
        self.queue.append(Item(LabelChange(self.issue_key, add or [], remove or [])))

    def attach(self, filename: str, text: str) -> None:
        """Queue a text to attach to the issue as `filename` (once)."""
        if self.muted:
            return
        self.queue.append(Item(AttachmentInput(self.issue_key, filename, text)))

    def remote_link(self, global_id: str, url: str, title: str) -> None:
        """Queue the PR link (upserted by global id)."""
        self.queue.append(Item(RemoteLinkInput(self.issue_key, global_id, url, title)))

    def _refused(self, item: Item, cause: ApplicationError) -> None:
        """A write Jira refused for good: fatal when it was something to say, else said and skipped."""
        said = isinstance(item.payload, StatusCommentInput | CommentOnce)
        if said and released("refused-comment-still-marks-issue", self.lean):
            self.fatal, self.muted = cause, True
            self.queue = [
                i for i in self.queue if isinstance(i.payload, TransitionInput | LabelChange | RemoteLinkInput)
            ]
            return
        if said or not released("outbox-skips-refused-writes", self.lean):
            self.fatal = cause
            self.queue.clear()
            return
        self.queue.remove(item)
        fallback = ""
        if isinstance(item.payload, TransitionInput) and item.payload.fallback_label:
            self.labels(add=[item.payload.fallback_label])
            fallback = f" The label {inline(item.payload.fallback_label, 60)} marks the issue instead."
        if item.kind in self.refused:
            return  # said once per kind of write: a refused label change is refused at every phase
        self.refused.add(item.kind)
        what = REFUSED_WHAT[item.kind]
        text = f"⚠️ Jira refused {what}: {inline(cause.message, 300)}.{fallback} The run goes on without it."
        self.comment(f"refused-{item.kind}", text)

    async def run(self) -> None:
        """Deliver forever (the workflow cancels this task when the run ends and the queue is empty)."""
        backoff = timedelta(seconds=5)
        while True:
            await workflow.wait_condition(lambda: bool(self.queue) and (self.fatal is None or self.muted))
            item = self.queue[0]
            payload = item.payload
            if self.lean and isinstance(payload, StatusCommentInput):
                payload = replace(payload, comment_id=self.status_comment_id)  # known by now if it was written once
            self.busy = True
            try:
                written = await _deliver(payload)
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, CancelledError):
                    # The run is closing and stopped this task mid-write: stop, starting nothing more (a timer
                    # started now would follow the run's completion, which Temporal refuses).
                    raise asyncio.CancelledError() from err
                if isinstance(cause, ApplicationError) and (cause.non_retryable or cause.type in PERMANENT):
                    self._refused(item, cause)
                else:
                    workflow.logger.warning("jira.outbox.retry-later kind=%s in=%s", item.kind, backoff)
                    self.busy = False
                    await workflow.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            finally:
                self.busy = False
            backoff = timedelta(seconds=5)
            if self.lean and isinstance(payload, StatusCommentInput) and written:
                self.status_comment_id = written
            if self.queue and self.queue[0] is item:
                self.queue.pop(0)
            self.delivered += 1


async def _deliver(write: Write) -> str | None:
    """Run the write's one activity; the status comment's id when it wrote that."""
    match write:
        case StatusCommentInput():
            return await workflow.execute_activity_method(JiraActivities.upsert_status_comment, write, **JIRA_OPTIONS)
        case CommentOnce():
            await workflow.execute_activity_method(JiraActivities.post_comment_once, write, **JIRA_OPTIONS)
        case TransitionInput():
            await workflow.execute_activity_method(JiraActivities.transition_issue, write, **JIRA_OPTIONS)
        case LabelChange():
            await workflow.execute_activity_method(JiraActivities.change_labels, write, **JIRA_OPTIONS)
        case RemoteLinkInput():
            await workflow.execute_activity_method(JiraActivities.upsert_remote_link, write, **JIRA_OPTIONS)
        case AttachmentInput():
            await workflow.execute_activity_method(JiraActivities.attach_text, write, **JIRA_OPTIONS)
        case _:
            assert_never(write)
    return None
