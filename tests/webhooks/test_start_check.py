"""Checked starts end to end (issue 13 finding 13): a label from someone not allowed leaves one comment, no run.

The real webhook app in front of a real worker on the dev server (tests/workflows/conftest.py running_worker);
Jira is the lead's fake, in which APPROVER belongs to the group STARTERS_GROUP (by id).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from app.temporal.gateway import TemporalGateway
from app.web.factory import create_app
from tests.conftest import make_settings
from tests.webhooks.conftest import webhook_settings
from tests.webhooks.test_end_to_end import Stack
from tests.workflows.conftest import running_worker
from tests.workflows.fakes import APPROVER, BOT, OUTSIDER, STARTERS_GROUP, FakeAgent, FakeJira
from workflows.start_check import StartCheckWorkflow, start_check_id

pytestmark = pytest.mark.e2e


@pytest.fixture
async def checked(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, Flask]]:
    """Web and worker with ORCHESTRATOR_STARTERS = the starters' group (by id)."""
    jira, agent = FakeJira(), FakeAgent()
    address = temporal_env.client.service_client.config.target_host
    policy = {"ORCHESTRATOR_STARTERS": STARTERS_GROUP, "JIRA_BOT_ACCOUNT_ID": BOT}
    settings = webhook_settings(
        tmp_path, sqlite_url, TEMPORAL_ADDRESS=address, TEMPORAL_TASK_QUEUE=task_queue, **policy
    )
    app = create_app(settings, temporal=TemporalGateway(settings.temporal, timedelta(seconds=10)))
    worker_settings = make_settings(tmp_path, DATABASE_URL=sqlite_url, TEMPORAL_TASK_QUEUE=task_queue, **policy)
    key = f"START{uuid.uuid4().int % 10**6}-1"
    async with running_worker(temporal_env.client, task_queue, sqlite_url, jira, agent, settings=worker_settings):
        yield Stack(temporal_env.client, jira, lambda **_: app, key), app
        handle = temporal_env.client.get_workflow_handle(f"orchestration-{key}")
        try:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test over")
        except RPCError:
            pass  # never started
    app.extensions["jira_bot_identity"].stop()
    app.extensions["temporal"].close()


async def test_a_label_from_someone_not_allowed_is_answered_once_and_starts_no_run(
    checked: tuple[Stack, Flask],
) -> None:
    stack, app = checked
    label = stack.payload("issue_updated__label_added_among_others", OUTSIDER)
    code, answer = await stack.post(app, label, "label-outsider")
    check_id = start_check_id(stack.key, "label-outsider")
    assert (code, answer["workflow_id"]) == (202, check_id)
    result = await stack.client.get_workflow_handle_for(StartCheckWorkflow.run, check_id).result()
    assert result.started is None and "may not start runs (ORCHESTRATOR_STARTERS)" in result.refused
    assert stack.jira.comment_posts == ["start-refused-label-outsider"]
    assert "⛔ No run was started" in stack.jira.comments["start-refused-label-outsider"]
    assert (await stack.post(app, label, "label-outsider"))[0] == 200  # Jira's retry: nothing twice
    with pytest.raises(RPCError):  # no run, ever
        await stack.client.get_workflow_handle(f"orchestration-{stack.key}").describe()
    assert stack.jira.comment_posts == ["start-refused-label-outsider"]

    # A member of the listed group (matched by id) starts the run.
    label = stack.payload("issue_updated__label_added_among_others", APPROVER)
    code, answer = await stack.post(app, label, "label-member")
    assert (code, answer["workflow_id"]) == (202, start_check_id(stack.key, "label-member"))
    handle = stack.client.get_workflow_handle_for(StartCheckWorkflow.run, answer["workflow_id"])
    started = (await handle.result()).started
    assert started is not None and started.created
    run = await stack.client.get_workflow_handle(f"orchestration-{stack.key}").describe()
    assert (run.run_id, run.status) == (started.run_id, WorkflowExecutionStatus.RUNNING)
    assert (await stack.state()).started_by == APPROVER
