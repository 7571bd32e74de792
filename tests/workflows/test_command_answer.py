"""CommandAnswerWorkflow with the real Jira activities and gateway against faked Jira REST: a flood of comments that
no run answers gets one answer per person and kind of answer (issue 13 finding 9)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import responses
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.jira import JiraActivities
from app.config import JiraSettings
from tests.jira_gateway.conftest import API, BOT, FakeClock, comment, comments_page, make_gateway
from workflows.command_answer import AnswerInput, CommandAnswerWorkflow

ANSWERED = comment("800", author=BOT) | {
    "created": "2026-01-01T09:00:00.000+0000",
    "properties": [{"key": "orchestrator.event", "value": {"key": "answer-to-799", "quiet": "unknown:acc-mallory"}}],
}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


async def answer(env: WorkflowEnvironment, task_queue: str, rsps: responses.RequestsMock, arg: AnswerInput) -> bool:
    settings = JiraSettings(
        base_url="https://acme.atlassian.net", email="bot@acme.test", api_token="t", bot_account_id=BOT,
        timeout=timedelta(seconds=5), retry_budget=timedelta(seconds=5),
    )  # fmt: skip
    acts = JiraActivities(make_gateway(settings, FakeClock()))
    with ThreadPoolExecutor(4) as pool:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[CommandAnswerWorkflow],
            activities=[acts.post_comment_once],
            activity_executor=pool,
        ):
            return await env.client.execute_workflow(
                CommandAnswerWorkflow.run, arg, id=f"answer-{uuid.uuid4()}", task_queue=task_queue
            )


def posts(rsps: responses.RequestsMock) -> list[dict[str, object]]:
    return [json.loads(c.request.body) for c in rsps.calls if c.request.method == "POST"]


async def test_a_second_unknown_command_from_the_same_person_is_not_answered(
    time_env: WorkflowEnvironment, task_queue: str, rsps: responses.RequestsMock
) -> None:
    spam = comment("900", author="acc-mallory") | {"created": "2026-01-01T09:03:00.000+0000"}
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([ANSWERED, spam]))
    arg = AnswerInput("PAY-1", "900", "ℹ️ {{/x}} is not a command I know.", "unknown:acc-mallory", 600)
    assert await answer(time_env, task_queue, rsps, arg) is False
    assert posts(rsps) == []


async def test_another_kind_of_answer_or_a_later_comment_is_answered(
    time_env: WorkflowEnvironment, task_queue: str, rsps: responses.RequestsMock
) -> None:
    later = comment("901", author="acc-mallory") | {"created": "2026-01-01T09:03:00.000+0000"}
    rsps.get(f"{API}/issue/PAY-1/comment", json=comments_page([ANSWERED, later]))
    rsps.post(f"{API}/issue/PAY-1/comment", json={"id": "902"}, status=201)
    arg = AnswerInput("PAY-1", "901", "ℹ️ There is no run on this issue.", "no-run:acc-mallory", 600)
    assert await answer(time_env, task_queue, rsps, arg) is True
    [sent] = posts(rsps)
    assert sent["properties"] == [
        {"key": "orchestrator.event", "value": {"key": "answer-to-901", "quiet": "no-run:acc-mallory"}}
    ]
