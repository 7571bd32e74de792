"""PullRequestClosedWorkflow on a real worker: a merge moves the issue to Done once, a close advises once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.jira import JiraActivities
from app.temporal import control
from tests.workflows.conftest import until
from tests.workflows.fakes import FakeJira
from workflows.pull_request_closed import PullRequestClosedInput, PullRequestClosedWorkflow, pull_request_closed_id

URL = "https://github.com/acme/shop/pull/7"


async def test_a_merge_delivered_twice_moves_the_issue_to_done_once(time_env: WorkflowEnvironment) -> None:
    jira, queue = FakeJira(), f"pr-closed-{uuid.uuid4()}"
    key = f"MRG-{uuid.uuid4().int % 10**6 + 1}"
    merged = PullRequestClosedInput(key, "github", 7, URL, True, "gh-1", "Done")
    closed = PullRequestClosedInput(key, "github", 8, URL, False, "gh-3", "Done")
    activities = JiraActivities(jira)
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            time_env.client,
            task_queue=queue,
            workflows=[PullRequestClosedWorkflow],
            activities=[activities.post_comment_once, activities.transition_issue],
            activity_executor=pool,
        ):
            client = time_env.client
            assert await control.pull_request_closed(client, queue, merged)
            await client.get_workflow_handle(pull_request_closed_id(merged)).result()
            again = PullRequestClosedInput(key, "github", 7, URL, True, "gh-2", "Done")  # a new delivery id
            assert not await control.pull_request_closed(client, queue, again)
            assert await control.pull_request_closed(client, queue, closed)
            await client.get_workflow_handle(pull_request_closed_id(closed)).result()
            await until(lambda: len(jira.comment_posts) == 2, what="both comments")

    assert jira.statuses == ["Done"]
    merged_text, closed_text = jira.texts()
    assert merged_text.startswith("🔀") and URL in merged_text
    assert closed_text.startswith("🚫") and "{{/retry}}" in closed_text
