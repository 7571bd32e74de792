"""Continuing a long run as new at a phase boundary (a mixin of `OrchestrationWorkflow`, issue 13 finding 9).

A run whose history Temporal finds long (or past ORCHESTRATOR_CONTINUE_AS_NEW_EVENTS) continues as a new run before
its next phase, carrying its state, memory and keys (`ContinuedRun`), once nothing it queued is half-sent.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

from temporalio import workflow

from workflows.notifier import Notifier
from workflows.phases import PHASE_ORDER
from workflows.run_base import ContinuedRun, RunBase
from workflows.versions import released

# How long a run past its history limit waits for its queued Jira writes and notifications before continuing as new.
CONTINUE_DRAIN = timedelta(minutes=10)


class Continuation(RunBase):
    """`_history_is_long` and `_continue_as_new`, over the run's shared attributes."""

    notifier: Notifier

    def _history_is_long(self) -> bool:
        """Whether to continue as new before the next phase: Temporal suggests it, or the history is past the limit."""
        if not released("continue-as-new", self.input.lean):
            return False  # runs from before go on as they went (their histories must replay)
        info, limit = workflow.info(), self.input.limits.history_events
        return info.is_continue_as_new_suggested() or (limit > 0 and info.get_current_history_length() >= limit)

    async def _continue_as_new(self, next_phase: int) -> None:
        """Continue as a new run that starts at `next_phase`, once every queued write, notification and handler is
        done (nothing half-sent is left behind, and nothing is sent twice: the keys stay this run's). Jira or the
        chat down for longer than CONTINUE_DRAIN: go on in this run, and try again at the next phase boundary."""
        reporter = self.reporter
        try:
            await workflow.wait_condition(
                lambda: reporter.idle and self.notifier.idle and workflow.all_handlers_finished(),
                timeout=CONTINUE_DRAIN,
                timeout_summary="draining before continue-as-new",
            )
        except TimeoutError:
            workflow.logger.warning("run.continue-as-new-postponed queued=%d", len(reporter.queue))
            return
        carried = ContinuedRun(
            self.state,
            self.memory,
            next_phase,
            reporter.run_key,
            self.notifier.run_key,
            sorted(reporter.refused),
            reporter.status_comment_id,
        )
        events = workflow.info().get_current_history_length()
        workflow.logger.info("run.continue-as-new next=%s events=%d", PHASE_ORDER[next_phase], events)
        workflow.continue_as_new(replace(self.input, continued=asdict(carried)))
