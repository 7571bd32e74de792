"""A run through the queue replays against today's code (its orchestration and its job workflow).

With RECORD_HISTORIES=1 the histories are saved to tests/fixtures/histories/ (`queued_run`, `queued_job`), where
tests/workflows/test_replay.py replays them from then on: a later change that breaks them needs a patch.
"""

from __future__ import annotations

from temporalio.worker import Replayer

from tests.workflows.conftest import Harness, harness, keep_history
from workflows.job_execution import JobExecutionWorkflow
from workflows.messages import RunStatus
from workflows.orchestration import OrchestrationWorkflow

__all__ = ["harness"]  # the time-skipping worker fixture of the workflow tests


async def test_a_queued_run_and_its_job_replay(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True)
    assert (await handle.result()).status == RunStatus.COMPLETED
    state = await handle.query(OrchestrationWorkflow.get_status)
    job = harness.client.get_workflow_handle(f"job-{state.phases[0].job_ids[0]}")
    await keep_history(handle, "queued_run")
    await keep_history(job, "queued_job")
    replayer = Replayer(workflows=[OrchestrationWorkflow, JobExecutionWorkflow])
    for recorded, patch in ((handle, b"job-queue"), (job, b"queue-nudge")):
        history = await recorded.fetch_history()
        assert any(patch in event.SerializeToString() for event in history.events)  # the new path was taken
        await replayer.replay_workflow(history)
