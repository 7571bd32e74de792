"""Issue 13, low: a Jira activity may take the gateway's whole retry budget plus one more call, and settings that
would not fit are refused (worker start, `orchestrator check`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from activities.jira import HEARTBEAT_EVERY
from app.config import ConfigError, JiraSettings
from app.services.checks import check_jira
from app.worker.main import main as worker_main
from tests.conftest import make_settings
from tests.workflows.conftest import Harness, until_state
from workflows.messages import ApproveInput, CommandContext, Source
from workflows.orchestration import OrchestrationWorkflow
from workflows.policies import JIRA_CALL, JIRA_HEARTBEAT, jira_budget_problem

JIRA_ACTIVITIES = {
    "read_issue", "check_approver", "upsert_status_comment", "post_comment_once", "transition_issue",
    "change_labels", "upsert_remote_link", "attach_text",
}  # fmt: skip


async def test_every_jira_activity_of_a_run_outlasts_the_retry_budget_and_a_call(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True)
    await handle.result()
    defaults = JiraSettings()
    scheduled = [
        (
            attributes.activity_type.name,
            attributes.start_to_close_timeout.ToTimedelta(),
            attributes.heartbeat_timeout.ToTimedelta(),
        )
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        for attributes in [event.activity_task_scheduled_event_attributes]
    ]
    jira = [(name, timeout, beat) for name, timeout, beat in scheduled if name in JIRA_ACTIVITIES]
    assert {"read_issue", "upsert_status_comment", "transition_issue"} <= {name for name, _, _ in jira}
    assert all(timeout >= defaults.retry_budget + defaults.timeout for _, timeout, _ in jira), jira
    assert {timeout for _, timeout, _ in jira} == {JIRA_CALL}
    # Each heartbeats (activities/jira.py, every HEARTBEAT_EVERY s): a dead worker's call is retried within 15 s.
    assert {beat for _, _, beat in jira} == {JIRA_HEARTBEAT}
    assert 3 * timedelta(seconds=HEARTBEAT_EVERY) <= JIRA_HEARTBEAT  # three beats missed before a retry


async def test_a_command_checks_its_sender_under_the_same_heartbeat(harness: Harness) -> None:
    handle = await harness.start()
    await until_state(handle, lambda s: getattr(s, "pending_gate", None) == "EXPLORE", "the EXPLORE gate")
    await handle.execute_update(
        OrchestrationWorkflow.request_approve, ApproveInput(CommandContext(actor="someone", source=Source.API))
    )
    beats = [
        event.activity_task_scheduled_event_attributes.heartbeat_timeout.ToTimedelta()
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "check_approver"
    ]
    assert beats == [JIRA_HEARTBEAT]


def test_a_retry_budget_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    assert jira_budget_problem(timedelta(minutes=2), timedelta(seconds=30)) is None
    problem = jira_budget_problem(timedelta(minutes=10), timedelta(seconds=30))
    assert problem is not None and "set JIRA_RETRY_BUDGET to at most 240s" in problem
    settings = make_settings(tmp_path, JIRA_RETRY_BUDGET="10m")
    check = check_jira(settings.jira)
    assert not check.ok and "JIRA_RETRY_BUDGET (600s)" in check.detail
    with pytest.raises(ConfigError, match="does not fit in a Jira activity's 300s"):
        worker_main(settings)
