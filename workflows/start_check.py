"""A checked start: when a start policy is set (ORCHESTRATOR_STARTERS, live-run caps), a start from Jira comes here.

The webhook must not call Jira inside the request, so it starts this short workflow, keyed by the delivery
(`start-check-<KEY>-<delivery id>`): the check (the starter's groups, the live runs) and the refusal comment are
activities. Allowed: the orchestration is started (a live one is kept). Refused: one comment says why, and no
run is started.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from workflows.messages import OrchestrationInput
from workflows.policies import DB_RETRY, SHORT
from workflows.reporter import JIRA_OPTIONS

with workflow.unsafe.imports_passed_through():
    from activities.jira import CommentOnce, JiraActivities
    from activities.starts import StartActivities, StartCheck, StartedRun, refusal_text


@dataclass(frozen=True)
class StartCheckInput:
    """The orchestration to start if allowed, and the delivery that asked (it keys the refusal comment)."""

    orchestration: OrchestrationInput
    delivery_id: str


@dataclass(frozen=True)
class StartCheckResult:
    """Started (with the run), or refused (with the reason posted on the issue)."""

    started: StartedRun | None = None
    refused: str = ""


def start_check_id(issue_key: str, delivery_id: str) -> str:
    """One check per delivery: a redelivered start checks nothing twice."""
    return f"start-check-{issue_key.upper()}-{delivery_id}"


@workflow.defn
class StartCheckWorkflow:
    """Checks one start, then starts the run or answers why not. No signals, updates or queries."""

    @workflow.run
    async def run(self, input: StartCheckInput) -> StartCheckResult:
        """Check, then start or refuse (once, on the issue)."""
        orchestration = input.orchestration
        check = StartCheck(orchestration.issue_key, orchestration.project_key, orchestration.started_by)
        decision = await workflow.execute_activity_method(
            StartActivities.check_start, check, start_to_close_timeout=SHORT, retry_policy=DB_RETRY
        )
        if decision.allowed:
            started = await workflow.execute_activity_method(
                StartActivities.start_checked_orchestration,
                orchestration,
                start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )
            return StartCheckResult(started=started)
        await workflow.execute_activity_method(
            JiraActivities.post_comment_once,
            CommentOnce(orchestration.issue_key, f"start-refused-{input.delivery_id}", refusal_text(decision)),
            **JIRA_OPTIONS,
        )
        workflow.logger.warning("start.refused %s: %s", orchestration.issue_key, decision.reason)
        return StartCheckResult(refused=decision.reason)
