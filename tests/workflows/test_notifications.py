"""Notifications: mentions on the issue and one chat message per event (gate, completed, failed, gate timeout)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from app.config import Settings
from tests.webhook_listener import Listener
from tests.workflows.conftest import _KEYS, Harness, keep_history, running_worker, until, until_state
from tests.workflows.fakes import APPROVER, FakeAgent, FakeJira, bad_request
from workflows.messages import ApproveInput, CommandContext, NotifyPolicy, RunStatus, Source
from workflows.orchestration import OrchestrationWorkflow

CLOUD_APPROVER = "712020:a11ce000-0000-4000-8000-000000000001"
EVERYTHING = NotifyPolicy(
    events=["gate", "completed", "failed", "gate_timeout"],
    mention=["starter", "approvers"],
    webhook=True,
    approvers=[CLOUD_APPROVER],
)


@pytest.fixture
async def notifying(
    time_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, listener: Listener
) -> AsyncIterator[Harness]:
    """A worker whose notification activity posts to the local listener."""
    settings = Settings.from_env(
        environ={"DATABASE_URL": sqlite_url, "NOTIFY_WEBHOOK_URL": listener.url}, env_file=None
    )
    jira, agent = FakeJira(), FakeAgent()
    async with running_worker(time_env.client, task_queue, sqlite_url, jira, agent, settings=settings):
        yield Harness(time_env.client, time_env, task_queue, jira, agent, sqlite_url, f"DEMO-{next(_KEYS)}")


def approve(delivery: str) -> ApproveInput:
    return ApproveInput(CommandContext(actor=APPROVER, delivery_id=delivery, source=Source.COMMENT))


async def test_each_gate_and_the_completion_arrive_once_and_mention_the_people(
    notifying: Harness, listener: Listener
) -> None:
    handle = await notifying.start(gates=["EXPLORE", "PLAN"], notify=EVERYTHING)
    await until_state(handle, lambda s: s.pending_gate == "EXPLORE", "the EXPLORE gate")
    await until(lambda: len(listener.requests) == 1, what="the first gate's notification")
    gate = next(t for t in notifying.jira.texts() if "*EXPLORE* is done" in t)
    assert gate.endswith(f"cc [~accountid:acc-reporter] [~accountid:{CLOUD_APPROVER}]")
    await handle.signal(OrchestrationWorkflow.approve, approve("n1"))
    await until_state(handle, lambda s: s.pending_gate == "PLAN", "the PLAN gate")
    await until(lambda: len(listener.requests) == 2, what="the second gate's notification")
    plan_gate = next(t for t in notifying.jira.texts() if "*PLAN* is done" in t)
    assert f"[~accountid:{APPROVER}]" in plan_gate  # who decided at the earlier gate is asked again
    await handle.signal(OrchestrationWorkflow.approve, approve("n2"))
    assert (await handle.result()).status == RunStatus.COMPLETED

    texts = listener.events()
    key = notifying.key
    assert texts[:2] == [
        f"{key}: EXPLORE is done (3 affected files, complexity medium); waiting for approval.",
        f"{key}: PLAN is done (4 steps, risk low); waiting for approval.",
    ]
    assert texts[2].startswith(f"{key}: completed. Tests 2 passed / 0 failed · 2 files changed, +16 −0.")
    assert len(texts) == 3  # each once
    keys = [r.headers["Idempotency-Key"] for r in listener.requests]
    assert len(set(keys)) == 3 and all(k.startswith(f"orchestration-{key}/") for k in keys)
    summary = next(t for t in notifying.jira.texts() if t.startswith("🎉"))
    assert summary.endswith("cc [~accountid:acc-reporter]")  # the starter; approvers are not needed any more


async def test_a_blocked_run_notifies_once_and_nobody_is_told_without_a_policy(
    notifying: Harness, listener: Listener
) -> None:
    notifying.agent.script("EXPLORE", bad_request)
    handle = await notifying.start(notify=EVERYTHING)
    await until_state(handle, lambda s: s.status == RunStatus.FAILED, "the block")
    await until(lambda: len(listener.requests) == 1, what="the failure's notification")
    [text] = listener.events()
    assert text.startswith(f"{notifying.key}: blocked in EXPLORE (agent): the agent refused the request")
    blocked = next(t for t in notifying.jira.texts() if t.startswith("❌"))
    assert blocked.endswith("cc [~accountid:acc-reporter]")
    await handle.cancel()

    notifying.agent.script("EXPLORE")  # back to the default: every phase succeeds
    quiet = await notifying.start(key=f"DEMO-{next(_KEYS)}", auto_proceed=True)  # a run from before: no policy
    assert (await quiet.result()).status == RunStatus.COMPLETED
    assert len(listener.requests) == 1
    assert not any("cc [~accountid" in t for t in notifying.jira.texts() if "🎉" in t)


async def test_a_gate_about_to_time_out_reminds_once_a_day_before(notifying: Harness, listener: Listener) -> None:
    handle = await notifying.start(gates=["EXPLORE"], notify=EVERYTHING, gate_timeout_seconds=3 * 86400)
    await until_state(handle, lambda s: s.pending_gate == "EXPLORE", "the gate")
    await until(lambda: len(listener.requests) == 1, what="the gate's notification")
    await notifying.env.sleep(timedelta(days=2, hours=1))  # time-skipping: past the reminder, not the timeout
    await until(lambda: len(listener.requests) == 2, what="the reminder")
    assert "the gate after EXPLORE times out in one day" in listener.events()[1]
    reminder = next(t for t in notifying.jira.texts() if t.startswith("⏰"))
    assert f"[~accountid:{CLOUD_APPROVER}]" in reminder and "times out in one day" in reminder
    await handle.signal(OrchestrationWorkflow.approve, approve("t1"))
    assert (await handle.result()).status == RunStatus.COMPLETED
    await keep_history(handle, "gate_reminder_notifications")
    assert sum("times out" in t for t in listener.events()) == 1
