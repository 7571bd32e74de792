"""The retention sweep (a Schedule): delete database rows no live run needs once they are older than their age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

from workflows.policies import DB_RETRY

with workflow.unsafe.imports_passed_through():
    from activities.retention import PurgeReport, PurgeRequest, RetentionActivities

RETENTION_ID = "retention"


@dataclass(frozen=True)
class RetentionInput:
    """One sweep; what to keep and for how long is the worker's settings (RETENTION_*)."""


@workflow.defn
class RetentionWorkflow:
    """One sweep: one batched purge activity. No signals or queries."""

    @workflow.run
    async def run(self, input: RetentionInput) -> PurgeReport:
        """Purge and report the rows deleted per kind."""
        report = await workflow.execute_activity_method(
            RetentionActivities.purge_expired_rows,
            PurgeRequest(),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=DB_RETRY,
        )
        workflow.logger.info("retention.purged %s more=%s", report.counts, report.more)
        return report
