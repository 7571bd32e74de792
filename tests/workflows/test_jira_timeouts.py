"""Issue 13, low: a Jira activity may take the gateway's whole retry budget plus one more call, and settings that
would not fit are refused (worker start, `orchestrator check`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from app.config import ConfigError, JiraSettings
from app.services.checks import check_jira
from app.worker.main import main as worker_main
from tests.conftest import make_settings
from tests.workflows.conftest import Harness
from workflows.policies import JIRA_CALL, jira_budget_problem

JIRA_ACTIVITIES = {
    "read_issue", "check_approver", "upsert_status_comment", "post_comment_once", "transition_issue",
    "change_labels", "upsert_remote_link", "attach_text",
}  # fmt: skip


async def test_every_jira_activity_of_a_run_outlasts_the_retry_budget_and_a_call(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True)
    await handle.result()
    defaults = JiraSettings()
    scheduled = [
        (attributes.activity_type.name, attributes.start_to_close_timeout.ToTimedelta())
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        for attributes in [event.activity_task_scheduled_event_attributes]
    ]
    jira = [(name, timeout) for name, timeout in scheduled if name in JIRA_ACTIVITIES]
    assert {"read_issue", "upsert_status_comment", "transition_issue"} <= {name for name, _ in jira}
    assert all(timeout >= defaults.retry_budget + defaults.timeout for _, timeout in jira), jira
    assert {timeout for _, timeout in jira} == {JIRA_CALL}


def test_a_retry_budget_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    assert jira_budget_problem(timedelta(minutes=2), timedelta(seconds=30)) is None
    problem = jira_budget_problem(timedelta(minutes=10), timedelta(seconds=30))
    assert problem is not None and "set JIRA_RETRY_BUDGET to at most 240s" in problem
    settings = make_settings(tmp_path, JIRA_RETRY_BUDGET="10m")
    check = check_jira(settings.jira)
    assert not check.ok and "JIRA_RETRY_BUDGET (600s)" in check.detail
    with pytest.raises(ConfigError, match="does not fit in a Jira activity's 300s"):
        worker_main(settings)
