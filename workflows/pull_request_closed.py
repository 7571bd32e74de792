"""What a closed pull request means for its issue, told by the forge's webhook: merged → Done; closed → advice.

The webhook must not call Jira inside the request, so it starts this short workflow, keyed by the pull request
and what happened to it (`pull-request-<KEY>-<provider>-<number>-merged`, or `-closed-<delivery>`): the same
delivery, or a second delivery of the same merge, starts nothing new. The comment is posted once (keyed the
same) and the transition is checked before and after (transition_issue), so a retried activity or a dead worker
does it once too.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from workflows.reporter import JIRA_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.jira import CommentOnce, JiraActivities, TransitionInput


@dataclass(frozen=True)
class PullRequestClosedInput:
    """A pull request of `jira/<KEY>` was merged or closed without merging."""

    issue_key: str
    provider: str  # github | gitlab
    number: int
    url: str
    merged: bool
    delivery_id: str
    done_status: str | None = None  # ORCHESTRATOR_DONE_STATUS; None: no transition


def pull_request_closed_id(event: PullRequestClosedInput) -> str:
    """One workflow per merge of a pull request, and per delivery of a close without merging."""
    what = "merged" if event.merged else f"closed-{event.delivery_id}"
    return f"pull-request-{event.issue_key.upper()}-{event.provider}-{event.number}-{what}"


@workflow.defn
class PullRequestClosedWorkflow:
    """Says on the issue that its pull request was merged (and moves it to Done) or closed. No messages."""

    @workflow.run
    async def run(self, event: PullRequestClosedInput) -> None:
        """Comment once; on a merge, transition to the done status (checked before and after)."""
        key = pull_request_closed_id(event).removeprefix(f"pull-request-{event.issue_key.upper()}-")
        if event.merged:
            text = f"🔀 The pull request [{event.url}|{event.url}] was merged."
        else:
            text = (
                f"🚫 The pull request [{event.url}|{event.url}] was closed without merging. To rework it, comment "
                "{{/retry}} while the run is blocked, or add the trigger label again: the new run updates and reopens "
                "the same pull request."
            )
        await workflow.execute_activity_method(
            JiraActivities.post_comment_once, CommentOnce(event.issue_key, key, text), **JIRA_OPTIONS
        )
        if event.merged and event.done_status:
            await workflow.execute_activity_method(
                JiraActivities.transition_issue, TransitionInput(event.issue_key, event.done_status), **JIRA_OPTIONS
            )
