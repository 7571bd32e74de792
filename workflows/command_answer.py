"""Answering a comment that no run will answer: an unknown command, or a command on an issue without a run.

The webhook must not call Jira inside the request, so it starts this one-activity workflow, keyed by the comment
(`command-answer-<KEY>-<comment id>`): a redelivered webhook starts nothing new, and the comment is posted once
(`post_comment_once`, keyed by the comment too) even when the activity is retried or the worker dies. A person is
given each kind of answer (unknown command, no run) at most once per ORCHESTRATOR_REFUSAL_QUIET on an issue: the rest
are held back (logged, and the workflow returns False), so a flood of comments gets one answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from workflows.reporter import JIRA_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.jira import CommentOnce, JiraActivities, QuietAnswer


@dataclass(frozen=True)
class AnswerInput:
    """The answer to one comment of one issue."""

    issue_key: str
    comment_id: str
    text: str
    # Answers of one kind to one person (`<kind>:<account id>`) go out at most once per `quiet_seconds` (0: all).
    quiet_key: str = ""
    quiet_seconds: int = 0


def answer_workflow_id(issue_key: str, comment_id: str) -> str:
    """One answer per comment."""
    return f"command-answer-{issue_key.upper()}-{comment_id}"


@workflow.defn
class CommandAnswerWorkflow:
    """Posts one answer on the issue, once. No signals, updates or queries."""

    @workflow.run
    async def run(self, input: AnswerInput) -> bool:
        """Post the answer (its event key is the comment's, so it appears once); False when it was held back, the
        same person having been answered on the issue a moment before (a flood of comments gets one answer)."""
        quiet = None
        if input.quiet_key and input.quiet_seconds:
            quiet = QuietAnswer(input.quiet_key, input.quiet_seconds, input.comment_id)
        posted = await workflow.execute_activity_method(
            JiraActivities.post_comment_once,
            CommentOnce(input.issue_key, f"answer-to-{input.comment_id}", input.text, quiet),
            **JIRA_OPTIONS,
        )
        if not posted:
            workflow.logger.info("command.answer-held-back issue=%s comment=%s", input.issue_key, input.comment_id)
        return bool(posted)
