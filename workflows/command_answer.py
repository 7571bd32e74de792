"""Answering a comment that no run will answer: an unknown command, or a command on an issue without a run.

The webhook must not call Jira inside the request, so it starts this one-activity workflow, keyed by the comment
(`command-answer-<KEY>-<comment id>`): a redelivered webhook starts nothing new, and the comment is posted once
(`post_comment_once`, keyed by the comment too) even when the activity is retried or the worker dies.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from workflows.reporter import JIRA_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.jira import CommentOnce, JiraActivities


@dataclass(frozen=True)
class AnswerInput:
    """The answer to one comment of one issue."""

    issue_key: str
    comment_id: str
    text: str


def answer_workflow_id(issue_key: str, comment_id: str) -> str:
    """One answer per comment."""
    return f"command-answer-{issue_key.upper()}-{comment_id}"


@workflow.defn
class CommandAnswerWorkflow:
    """Posts one answer on the issue, once. No signals, updates or queries."""

    @workflow.run
    async def run(self, input: AnswerInput) -> None:
        """Post the answer (its event key is the comment's, so it appears once)."""
        await workflow.execute_activity_method(
            JiraActivities.post_comment_once,
            CommentOnce(input.issue_key, f"answer-to-{input.comment_id}", input.text),
            **JIRA_OPTIONS,
        )
