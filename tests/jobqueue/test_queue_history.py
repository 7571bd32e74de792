"""A run through the queue replays against today's code (its orchestration and its job workflow).

With RECORD_HISTORIES=1 the histories are saved to tests/fixtures/histories/ (`queued_run`, `queued_job`), where
tests/workflows/test_replay.py replays them from then on: a later change that breaks them needs a patch.
"""

from __future__ import annotations

from collections import Counter

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflows.conftest import Harness, harness, keep_history
from workflows.job_execution import JobExecutionWorkflow
from workflows.messages import RunStatus
from workflows.orchestration import OrchestrationWorkflow
from workflows.policies import DISPATCH_HEARTBEAT

__all__ = ["harness"]  # the time-skipping worker fixture of the workflow tests


async def test_a_queued_run_and_its_job_replay(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True, lean=False)  # a run from before: it asks for its patches
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


def activity_names(history: WorkflowHistory) -> list[str]:
    """The activity types the history scheduled, in order."""
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


async def test_a_lean_run_queues_a_job_and_ends_a_phase_in_one_activity_each(harness: Harness) -> None:
    # Issue 15: what a run started now does (its input says `lean`); runs from before keep their three activities
    # per job and two per phase end (the saved `queued_run` history replays that path).
    handle = await harness.start(auto_proceed=True)
    assert (await handle.result()).status == RunStatus.COMPLETED
    state = await handle.query(OrchestrationWorkflow.get_status)
    job = harness.client.get_workflow_handle(f"job-{state.phases[0].job_ids[0]}")
    await keep_history(handle, "lean_run")
    await keep_history(job, "lean_job")
    run_history, job_history = await handle.fetch_history(), await job.fetch_history()
    names = Counter(activity_names(run_history))
    assert names["queue_job"] == names["record_phase_end"] == 5  # EXPLORE, PLAN, CODE, TEST, DOCUMENT
    assert not {"create_job", "enqueue_job", "start_queue_monitor", "save_checkpoint"} & set(names)
    assert activity_names(job_history)[-1] == "dispatch_jobs"  # its end hands the next job out itself
    beats = {
        event.activity_task_scheduled_event_attributes.heartbeat_timeout.ToTimedelta()
        for history in (run_history, job_history)
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name in ("queue_job", "dispatch_jobs")
    }
    assert beats == {DISPATCH_HEARTBEAT}  # a worker lost mid-dispatch is noticed in 15 s, not SHORT's 2 min
    # It keeps its status comment's id (no issue property): "" before the first write, that write's id after.
    passed = harness.jira.status_ids_passed
    assert passed[0] == "" and set(passed[1:]) == {f"status-{state.run_id}"} and len(passed) > 3
    assert not any(e.HasField("marker_recorded_event_attributes") for e in job_history.events)  # no patch asked
    assert not any(e.HasField("marker_recorded_event_attributes") for e in run_history.events)
    replayer = Replayer(workflows=[OrchestrationWorkflow, JobExecutionWorkflow])
    for history in (run_history, job_history):
        await replayer.replay_workflow(history)


async def test_a_run_from_before_still_queues_through_a_monitor(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True, lean=False)
    assert (await handle.result()).status == RunStatus.COMPLETED
    names = Counter(activity_names(await handle.fetch_history()))
    assert names["create_job"] == names["enqueue_job"] == names["save_checkpoint"] == 5
    assert "queue_job" not in names and "record_phase_end" not in names
    assert set(harness.jira.status_ids_passed) == {None}  # its status comment's id is in an issue property
