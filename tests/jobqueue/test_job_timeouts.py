"""Heartbeat timeout configuration (seed property 18): every agent call carries the configured limits."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.jobs import JobActivities, NewJob
from app.store.db import make_engine, make_session_factory
from tests.workflows.conftest import Harness, harness
from workflows.job_execution import JobExecutionWorkflow
from workflows.job_types import JobInput

__all__ = ["harness"]  # the time-skipping worker fixture of the workflow tests


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(heartbeat=st.integers(5, 3600), start_to_close=st.integers(60, 4 * 3600))
async def test_agent_calls_carry_the_configured_heartbeat_and_deadline(
    harness: Harness, heartbeat: int, start_to_close: int
) -> None:
    job_id = f"hb-{uuid.uuid4().hex[:8]}"
    job = JobInput(
        job_id, "run-hb", "HB-1", "HB", "CODE", 1, ["code-implementer"], "code it", "{}", "backlog",
        pushes_branch=True, verifies=True,
        agent_start_to_close_seconds=start_to_close, agent_heartbeat_seconds=heartbeat,
    )  # fmt: skip
    engine = make_engine(harness.database_url)
    JobActivities(make_session_factory(engine)).create_job(
        NewJob(job_id, "run-hb", "HB-1", "HB", "CODE", 1, "CODE", job.roles, job.prompt, job.context)
    )
    engine.dispose()
    handle = await harness.client.start_workflow(
        JobExecutionWorkflow.run, job, id=f"job-{job_id}", task_queue=harness.task_queue
    )
    assert (await handle.result()).success
    history = await handle.fetch_history()
    calls = {}
    for event in history.events:
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == "execute_agent_job":
            command = scheduled.input.payloads[0].data  # the AgentCommand, as JSON
            calls[command.split(b'"command":"')[1].split(b'"')[0].decode()] = (
                scheduled.heartbeat_timeout.ToSeconds(), scheduled.start_to_close_timeout.ToSeconds(),
            )  # fmt: skip
    for command in ("CODE", "runVerification", "createPR"):
        assert calls[command] == (heartbeat, start_to_close)
