"""Determinism guard: every saved history replays against today's workflow code.

Histories are recorded from the workflow tests with `RECORD_HISTORIES=1`; all but typed_results.json were recorded
before the typed phase results, so they prove runs from before still replay. A change that makes one of these fail
would break runs in flight: guard it with `workflow.patched(...)` instead of re-recording.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflows.conftest import HISTORIES
from workflows.job_execution import JobExecutionWorkflow
from workflows.orchestration import OrchestrationWorkflow
from workflows.reconcile import ReconcileWorkflow

SAVED = sorted(HISTORIES.glob("*.json"))


def test_the_required_histories_are_saved() -> None:
    names = {path.stem for path in SAVED}
    assert {
        "full_run",
        "rejected_phase",
        "test_fix_loop",
        "cancel_during_job",
        "typed_results",
        "gate_reminder_notifications",
        "continued_as_new",
        "continued_run_completes",
        "reconcile_before_missed_commands",  # a sweep from before patch `reconcile-missed-commands`
        "forge_pull_request",
        "lean_run",  # issue 15: a job queued, a phase ended in one activity each (input `lean`)
        "lean_job",
    } <= names


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[OrchestrationWorkflow, JobExecutionWorkflow, ReconcileWorkflow])
    await replayer.replay_workflow(history)
