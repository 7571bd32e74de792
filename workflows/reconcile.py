"""The reconciliation sweep (a Schedule): what no webhook told us, done late, and said.

Issues carrying the trigger label or in the trigger status without an orchestration are started; comment
commands written on live runs' issues while no webhook reached us are sent to their runs (patch
`reconcile-missed-commands`: histories from before it replay without that step); pull requests merged while no
forge webhook reached us are told on their issues (patch `reconcile-missed-merges`).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.policies import JIRA_CALL, SEED_RETRY, SHORT
from workflows.queue_types import ReconcileInput, ReconcileReport

with workflow.unsafe.imports_passed_through():
    from activities.merges import MergeQuery, MergeSweepActivities
    from activities.missed_commands import MissedCommandActivities, MissedQuery
    from activities.reconcile import ReconcileActivities, ReconcileQuery, StartRequest

START_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)
MISSED_COMMANDS = "reconcile-missed-commands"
MISSED_MERGES = "reconcile-missed-merges"


@workflow.defn
class ReconcileWorkflow:
    """One sweep: JQL search, drop issues with an orchestration, start the rest; then send missed commands.
    No signals or queries."""

    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileReport:
        """Find and start, then recover commands; the report (and the log) names every issue and command."""
        found = await workflow.execute_activity_method(
            ReconcileActivities.find_unorchestrated_issues,
            ReconcileQuery(),
            start_to_close_timeout=JIRA_CALL,
            retry_policy=SEED_RETRY,
        )
        report = ReconcileReport()
        if found:
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
        if workflow.patched(MISSED_COMMANDS):
            report = dataclasses.replace(report, commands=await self._send_missed_commands())
        if input.forge and workflow.patched(MISSED_MERGES):
            merges = await workflow.execute_activity_method(
                MergeSweepActivities.start_missed_merges,
                MergeQuery(),
                start_to_close_timeout=SHORT,
                retry_policy=SEED_RETRY,
            )
            report = dataclasses.replace(report, merges=merges)
        return report

    async def _send_missed_commands(self) -> list[str]:
        missed = await workflow.execute_activity_method(
            MissedCommandActivities.find_missed_commands,
            MissedQuery(),
            start_to_close_timeout=SHORT,
            retry_policy=SEED_RETRY,
        )
        if not missed.commands:
            return []
        return await workflow.execute_activity_method(
            MissedCommandActivities.send_missed_commands,
            missed,
            start_to_close_timeout=SHORT,
            retry_policy=START_RETRY,
        )
