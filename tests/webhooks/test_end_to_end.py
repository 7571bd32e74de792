"""End to end on the real dev server: signed Jira deliveries → the webhook → the real OrchestrationWorkflow.

A real worker runs the real workflows and DB activities; only Jira and the agent are the lead's fakes
(tests/workflows/fakes.py), whose `may_steer` permits APPROVER, refuses OUTSIDER and recognises BOT.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from app.temporal.gateway import TemporalGateway
from app.web.factory import create_app
from tests.webhooks.conftest import webhook_settings
from tests.webhooks.jira_payloads import encode, load_jira_fixture, signed_headers
from tests.workflows.conftest import running_worker
from tests.workflows.fakes import APPROVER, BOT, OUTSIDER, FakeAgent, FakeJira
from workflows.orchestration import OrchestrationWorkflow
from workflows.state import OrchestrationState

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    """The webhook app (real gateway) in front of a real worker on the dev server."""

    client: Client
    jira: FakeJira
    make_app: Callable[..., Flask]
    key: str

    def payload(self, fixture: str, actor: str, **comment: str) -> dict[str, Any]:
        """A fixture moved to this test's issue, caused by `actor`."""
        data = load_jira_fixture(fixture)
        data["issue"]["key"] = self.key
        if "comment" in data:
            data["comment"]["author"]["accountId"] = actor
            data["comment"].update(comment)
        else:
            data["user"]["accountId"] = actor
        return data

    async def post(self, app: Flask, payload: dict[str, Any], delivery_id: str) -> tuple[int, Any]:
        """Deliver signed, off the event loop (the worker shares it)."""
        body = encode(payload)

        def send() -> tuple[int, Any]:
            response = app.test_client().post("/webhooks/jira", data=body, headers=signed_headers(body, delivery_id))
            response.close()  # as a server does once the answer is sent
            return response.status_code, response.json

        return await asyncio.to_thread(send)

    async def state(self) -> OrchestrationState:
        handle = self.client.get_workflow_handle_for(OrchestrationWorkflow.run, f"orchestration-{self.key}")
        return await handle.query(OrchestrationWorkflow.get_status)

    async def until(self, check: Callable[[OrchestrationState], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check(await self.state()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def stack(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    jira, agent = FakeJira(), FakeAgent()
    apps: list[Flask] = []
    address = temporal_env.client.service_client.config.target_host

    def make_app(**env: str) -> Flask:
        settings = webhook_settings(
            tmp_path, sqlite_url, TEMPORAL_ADDRESS=address, TEMPORAL_TASK_QUEUE=task_queue, **env
        )
        apps.append(create_app(settings, temporal=TemporalGateway(settings.temporal, timedelta(seconds=10))))
        return apps[-1]

    key = f"HOOK{uuid.uuid4().int % 10**6}-1"
    async with running_worker(temporal_env.client, task_queue, sqlite_url, jira, agent):
        yield Stack(temporal_env.client, jira, make_app, key)
        handle = temporal_env.client.get_workflow_handle(f"orchestration-{key}")
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")
    for app in apps:
        app.extensions["jira_bot_identity"].stop()
        app.extensions["temporal"].close()


def at_explore_gate(state: OrchestrationState) -> bool:
    return state.pending_gate == "EXPLORE"


async def test_label_starts_the_run_and_only_a_permitted_approve_passes_the_gate(stack: Stack) -> None:
    app = stack.make_app(JIRA_BOT_ACCOUNT_ID=BOT)
    label = stack.payload("issue_updated__label_added_among_others", "acc-reporter")
    code, answer = await stack.post(app, label, "e2e-label")
    assert (code, answer["workflow_id"]) == (202, f"orchestration-{stack.key}")
    for _ in range(4):  # Jira's retries of the same delivery start nothing new
        assert (await stack.post(app, label, "e2e-label"))[0] == 200
    description = await stack.client.get_workflow_handle(f"orchestration-{stack.key}").describe()
    assert description.run_id == answer["run_id"] and description.status == WorkflowExecutionStatus.RUNNING
    await stack.until(at_explore_gate, "the EXPLORE gate")

    outsider = stack.payload("comment_created__approve_with_notes", OUTSIDER, id="91001")
    assert (await stack.post(app, outsider, "e2e-outsider"))[0] == 202  # dispatched; the workflow refuses it
    bot = stack.payload("comment_created__approve_with_notes", BOT, id="91002")
    code, answer = await stack.post(app, bot, "e2e-bot")
    assert (code, answer["reason"]) == (200, "caused by the bot's own account")
    # Before the web process knows the bot's account, its command reaches the workflow, which refuses it silently.
    not_yet_known = stack.make_app(JIRA_BOT_ACCOUNT_ID="")
    not_yet_known.extensions["jira_bot_identity"].stop()
    bot_again = stack.payload("comment_created__proceed", BOT, id="91003")
    assert (await stack.post(not_yet_known, bot_again, "e2e-bot-unknown"))[0] == 202

    approver = stack.payload("comment_created__approve_with_notes", APPROVER, id="91004")
    assert (await stack.post(app, approver, "e2e-approver"))[0] == 202
    twin = stack.payload("issue_updated__comment_twin", APPROVER, id="91004")
    assert (await stack.post(app, twin, "e2e-approver-twin"))[0] == 200
    await stack.until(lambda s: s.pending_gate == "PLAN", "the PLAN gate")

    state = await stack.state()
    assert [(a.phase, a.decision, a.actor) for a in state.approvals] == [("EXPLORE", "approve", APPROVER)]
    assert state.approvals[0].text == "Looks right; keep the retry cap at 5"
    answers = [text for key, text in stack.jira.comments.items() if ":answer-" in key]
    assert len(answers) == 2  # the outsider refused (naming who may approve), the approver accepted; bot: nothing
    refused, accepted = sorted(answers, key=lambda text: not text.startswith("🚫"))
    assert f"{OUTSIDER} is not an approver" in refused and "May approve: reviewer" in refused
    assert accepted.startswith("✅") and "approved EXPLORE" in accepted
