"""The reconciliation sweep (a Schedule): start labelled issues whose webhook never reached us, and say so."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.policies import JIRA_CALL, SEED_RETRY, SHORT
from workflows.queue_types import ReconcileInput, ReconcileReport

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities, ReconcileQuery, StartRequest

START_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)


@workflow.defn
class ReconcileWorkflow:
    """One sweep: JQL search, drop issues with an orchestration, start the rest. No signals or queries."""

    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileReport:
        """Find and start; the report (and the log) names every issue found, started and skipped."""
        found = await workflow.execute_activity_method(
            ReconcileActivities.find_unorchestrated_issues,
            ReconcileQuery(),
            start_to_close_timeout=JIRA_CALL,
            retry_policy=SEED_RETRY,
        )
        if not found:
            return ReconcileReport()
        outcomes = await workflow.execute_activity_method(
            ReconcileActivities.start_orchestrations,
            StartRequest(found),
            start_to_close_timeout=SHORT,
            retry_policy=START_RETRY,
        )
        report = ReconcileReport(
            found=found,
            started=[o.issue_key for o in outcomes if o.started],
            skipped=[o.issue_key for o in outcomes if not o.started],
        )
        workflow.logger.warning(
            "reconcile.started issues=%s skipped=%s (labelled while no webhook reached us)",
            report.started,
            report.skipped,
        )
        return report
