"""A trigger label added while the web process is down is started by the reconciliation sweep, exactly once.

Sandbox Jira, demo agent and worker run as real processes; the web process does not. A person labels DEMO-1,
the sandbox's webhook finds nobody listening and is retried, and the worker's reconciliation schedule searches
the sandbox (real JQL through the real Jira gateway) and starts `orchestration-DEMO-1`. Then the web process
starts, and the sandbox's late retry of the label event lands on the run the sweep started.

The processes use a namespace of their own on the session's dev server (harness.own_namespace): an
`orchestration-DEMO-1` left in `default` by an earlier test would rightly count, for the sweep, as an existing
orchestration.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.reconcile import trigger_jql
from app.sandbox.people import SandboxPerson
from app.sandbox.server import STATE_FILE, SandboxServer
from app.store.db import make_engine, make_session_factory
from app.store.models import WebhookDelivery
from tests.conftest import free_port, make_settings
from tests.e2e.harness import Stack, drop_namespace, eventually, exists, own_namespace
from tests.sandbox.conftest import gateway_for, sandbox_config
from tests.webhooks.jira_payloads import load_jira_fixture
from tests.workflows.conftest import running_worker, until_state
from tests.workflows.fakes import FakeAgent, FakeJira
from webhooks.deliveries import CLAIMED, DeliveryStore
from webhooks.events import JiraEvent
from workflows.ids import workflow_id_for
from workflows.messages import Source
from workflows.orchestration import OrchestrationWorkflow
from workflows.queue_types import RECONCILE_ID, ReconcileInput, ReconcileReport
from workflows.reconcile import ReconcileWorkflow

pytestmark = pytest.mark.e2e

TRIGGER = "ai-orchestrate"
KEY = "DEMO-1"
STATUS_COMMENT = f"h3. 🤖 AI orchestration of {KEY}"


@dataclass
class Site:
    """The running processes and a client of their namespace."""

    stack: Stack
    client: Client


@pytest.fixture
async def site(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Site]:
    """Sandbox Jira, demo agent and worker (sweeping every second); no web process."""
    client = await own_namespace(temporal_env)
    stack = Stack(tmp_path, temporal_env.client.service_client.config.target_host)
    stack.env.update(TEMPORAL_NAMESPACE=client.namespace, RECONCILE_INTERVAL="1s")
    try:
        for name, args in (("sandbox", ["sandbox", "serve"]), ("agent", ["agent"]), ("worker", ["worker"])):
            stack.start(name, *args)
        yield Site(stack, client)
    finally:
        try:
            await drop_namespace(temporal_env, client, stack.schedule_ids())
        finally:
            stack.stop()


def label_delivery(stack: Stack) -> dict[str, Any] | None:
    """The sandbox's pending delivery of "trigger label added to DEMO-1", if it is still in the outbox."""
    state = json.loads((stack.dir / "var" / STATE_FILE).read_text())
    for delivery in state["outbox"]:
        body = delivery["body"]
        items = (body.get("changelog") or {}).get("items") or []
        added = any(i["field"] == "labels" and TRIGGER in (i["toString"] or "").split() for i in items)
        if body["webhookEvent"] == "jira:issue_updated" and body["issue"]["key"] == KEY and added:
            return dict(delivery)
    return None


def sandbox_failed(stack: Stack) -> list[dict[str, Any]]:
    """Deliveries the sandbox gave up on."""
    return list(json.loads((stack.dir / "var" / STATE_FILE).read_text())["failed"])


def status_comments(stack: Stack) -> list[str]:
    comments = stack.rest(f"issue/{KEY}/comment?maxResults=100")["comments"]
    return [c["body"] for c in comments if c["author"]["accountId"] == "sandbox-bot" and STATUS_COMMENT in c["body"]]


async def sweeps(client: Client, since: datetime | None = None) -> list[tuple[WorkflowExecution, ReconcileReport]]:
    """The namespace's finished reconciliation runs (those started after `since`), oldest first, with their reports."""
    query = 'WorkflowType = "ReconcileWorkflow" AND ExecutionStatus = "Completed"'
    if since is not None:
        query += f' AND StartTime > "{since.isoformat()}"'
    found = []
    async for run in client.list_workflows(query):
        handle = client.get_workflow_handle_for(ReconcileWorkflow.run, run.id, run_id=run.run_id)
        found.append((run, await handle.result()))
    return sorted(found, key=lambda pair: pair[0].start_time)


async def runs_of(client: Client, workflow_id: str) -> list[WorkflowExecution]:
    return [run async for run in client.list_workflows(f'WorkflowId = "{workflow_id}"')]


async def test_a_label_added_while_the_web_is_down_is_started_once_by_the_sweep(site: Site) -> None:
    stack, client = site.stack, site.client
    workflow_id = workflow_id_for(KEY)
    await eventually(stack, lambda: bool(stack.rest("myself")), "the sandbox")
    SandboxPerson(stack.jira_url, "reviewer").label(KEY, TRIGGER)

    # Nobody listens: the sandbox keeps the delivery and retries it, as Jira does on a connection failure.
    await eventually(stack, lambda: (label_delivery(stack) or {}).get("attempts", 0) >= 1, "a retry of the label")

    await eventually(
        stack, lambda: exists(client.get_workflow_handle(workflow_id).describe()), f"the sweep to start {workflow_id}"
    )
    handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id)
    run = await handle.describe()
    assert run.status == WorkflowExecutionStatus.RUNNING
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert (state.issue_key, state.started_by, state.run_id) == (KEY, "reconcile", run.run_id)

    # The sweep says what it did: in its result (the schedule's runs in the Temporal UI) and in the worker's log.
    async def reported() -> bool:
        return any(report.started for _, report in await sweeps(client))

    await eventually(stack, reported, "the sweep's report")
    reports = await sweeps(client)
    starting = [(sweep, report) for sweep, report in reports if report.started]
    # No other issue carries the label: the JQL found DEMO-1 alone.
    assert [report for _, report in starting] == [ReconcileReport(found=[KEY], started=[KEY], skipped=[])]
    assert all(sweep.id.startswith(f"{RECONCILE_ID}-") for sweep, _ in reports)  # run by the schedule
    worker_log = (stack.dir / "worker.log").read_text()
    assert f"reconcile.started issues=['{KEY}'] skipped=[]" in worker_log

    await eventually(stack, lambda: len(status_comments(stack)) == 1, "the status comment")

    # A later sweep finds the issue orchestrated and starts nothing.
    later = starting[0][0].close_time
    assert later is not None

    async def swept_again() -> bool:
        return bool(await sweeps(client, later))

    await eventually(stack, swept_again, "a second sweep")
    for _, report in await sweeps(client, later):  # found nothing, or found DEMO-1 already running
        assert report.started == [] and report.skipped == report.found, report

    # The web process comes up while the sandbox still retries the label event: the late redelivery finds the
    # sweep's run and starts nothing new.
    pending = label_delivery(stack)
    assert pending is not None, f"the sandbox stopped retrying the label event before the web came up\n{stack.logs()}"
    assert pending["attempts"] >= 1  # so it comes back with X-Atlassian-Webhook-Retry
    stack.start("web", "web")
    engine = make_engine(stack.env["DATABASE_URL"])
    factory = make_session_factory(engine)

    def recorded() -> tuple[str, str | None] | None:
        """The web's record of the delivery: claimed ("dispatching") on arrival, settled once Temporal answered."""
        with factory() as session:
            query = select(WebhookDelivery.outcome, WebhookDelivery.detail)
            row = session.execute(query.where(WebhookDelivery.delivery_id == pending["id"])).one_or_none()
            return None if row is None else (row.outcome, row.detail)

    def settled() -> bool:
        found = recorded()
        return found is not None and found[0] != CLAIMED

    try:
        await eventually(stack, settled, "the late redelivery of the label event", 40)
        assert recorded() == ("dispatched", f"start {workflow_id} {run.run_id}")  # the sweep's run, not a new one
    finally:
        engine.dispose()
    # The sandbox drops the delivery from its outbox once the web's answer is back: just after the web settled it.
    await eventually(stack, lambda: label_delivery(stack) is None, "the sandbox to drop the delivered label event")
    assert pending["id"] not in {d["id"] for d in sandbox_failed(stack)}

    assert (await handle.describe()).run_id == run.run_id
    assert [r.run_id for r in await runs_of(client, workflow_id)] == [run.run_id]
    assert len(status_comments(stack)) == 1
    assert sum(len(report.started) for _, report in await sweeps(client)) == 1  # over every sweep of the test


def test_the_sandbox_answers_the_sweeps_jql_and_gives_up_on_a_dead_endpoint(tmp_path: Path) -> None:
    """The sandbox half, in process: the product's JQL answered as Jira would, and Jira's retry-then-give-up."""
    dead = f"http://127.0.0.1:{free_port()}/webhooks/jira"  # nobody listens here
    server = SandboxServer(sandbox_config(tmp_path / "sandbox.json", dead)).start()  # 3 retries, from 50 ms apart
    try:
        reviewer = SandboxPerson(server.url, "reviewer")
        reviewer.label("DEMO-1", TRIGGER)
        reviewer.label("DEMO-2", "not-the-trigger")
        reviewer.label("DEMO-3", TRIGGER)
        reviewer.transition("DEMO-3", "Done")  # labelled, but finished: not the sweep's business
        newer = reviewer.create("Labelled at creation", labels=[TRIGGER])
        other_project = reviewer.create("Labelled in the other project", labels=[TRIGGER], project="OPS")

        jql = trigger_jql(TRIGGER, "Done")
        assert jql == 'labels = "ai-orchestrate" AND status != "Done" ORDER BY created ASC'
        # Every project (the JQL names none), oldest first.
        assert gateway_for(server).search_issue_keys(jql) == ["DEMO-1", newer, other_project]
        # Who started what, read back from the changelog (the sweep's starter when ORCHESTRATOR_STARTERS is set).
        gateway = gateway_for(server)
        assert gateway.trigger_author("DEMO-1", TRIGGER, None) == "sandbox-reviewer"
        assert gateway.trigger_author("DEMO-2", TRIGGER, None) is None  # another label
        assert gateway.trigger_author("DEMO-3", "no-such-label", "Done") == "sandbox-reviewer"  # a status move
        assert [(m.to_status, m.author) for m in gateway.status_moves("DEMO-3")] == [("Done", "sandbox-reviewer")]

        def settled() -> bool:
            with server.store.read() as state:
                return not state["outbox"]

        deadline = time.monotonic() + 10
        while not settled():
            assert time.monotonic() < deadline, "the sandbox never gave up"
            time.sleep(0.05)
        with server.store.read() as state:
            failed = list(state["failed"])
        assert sorted(f["event"] for f in failed) == ["jira:issue_created"] * 2 + ["jira:issue_updated"] * 4
        assert {f["reason"] for f in failed} == {"ConnectionError after 4 attempts"}  # the first and 3 retries
    finally:
        server.stop()


async def test_a_status_move_and_a_command_written_while_the_web_is_down_act_once(
    temporal_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path
) -> None:
    """Issue 13 finding 14, in process: the sandbox Jira (its webhooks reach nobody), the real gateway, the real
    workflows and activities on a worker of this test; the agent is the lead's scripted fake."""
    dead = f"http://127.0.0.1:{free_port()}/webhooks/jira"
    server = SandboxServer(sandbox_config(tmp_path / "sandbox.json", dead)).start()
    client = await own_namespace(temporal_env)
    task_queue = f"reconcile-{uuid.uuid4()}"
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        TEMPORAL_TASK_QUEUE=task_queue,
        TEMPORAL_NAMESPACE=client.namespace,
        ORCHESTRATOR_TRIGGER_STATUS="In Review",
        ORCHESTRATOR_IN_PROGRESS_STATUS="In Progress",
        ORCHESTRATOR_APPROVE_STATUS="To Do",
        JIRA_WEBHOOK_MAX_AGE="1s",  # a move into the approve status is recovered once a delivery of it is too old
    )
    gateway = gateway_for(server)
    reviewer = SandboxPerson(server.url, "reviewer")
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)

    async def sweep() -> ReconcileReport:
        return await client.execute_workflow(
            ReconcileWorkflow.run, ReconcileInput(), id=f"sweep-{uuid.uuid4()}", task_queue=task_queue
        )

    try:
        jira = cast(FakeJira, gateway)  # the real gateway in the fake's place: the run writes to the sandbox
        async with running_worker(client, task_queue, sqlite_url, jira, FakeAgent(), settings=settings, search=gateway):
            key = reviewer.create("Moved to review while the web was down")
            reviewer.transition(key, "In Review")  # the trigger status; its webhook reaches nobody
            first = await sweep()
            assert (first.found, first.started) == ([key], [key])
            handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id_for(key))
            await until_state(handle, lambda s: s.pending_gate == "EXPLORE", "the EXPLORE gate")  # type: ignore[attr-defined]

            comment_id = reviewer.comment(key, "/approve go ahead")  # its webhook reaches nobody either
            reviewer.comment(key, "a remark, not a command")
            second = await sweep()
            assert second.commands == [f"{key} /approve"] and second.started == []
            state = await until_state(handle, lambda s: s.pending_gate != "EXPLORE", "the gate to pass")
            approvals = [(a.phase, a.decision, a.actor) for a in state.approvals]  # type: ignore[attr-defined]
            assert approvals == [("EXPLORE", "approve", "sandbox-reviewer")]  # the comment's author, checked
            assert (await sweep()).commands == []  # a comment acts once

            # Jira's late delivery of that comment finds it handled: the web does not act on it again.
            late = load_jira_fixture("comment_created__approve_with_notes")
            late["issue"]["key"] = key
            late["comment"]["id"] = comment_id
            event = JiraEvent.from_payload(late, delivery_id="late-delivery")
            assert DeliveryStore(factory).claim(event, "approve") is None

            # At the PLAN gate the reviewer moves the issue into the approve status; its webhook reaches nobody.
            # Once the move is older than JIRA_WEBHOOK_MAX_AGE (no delivery of it may act any more) a sweep sends it.
            await until_state(handle, lambda s: s.pending_gate == "PLAN", "the PLAN gate")  # type: ignore[attr-defined]
            reviewer.transition(key, "To Do")
            deadline = time.monotonic() + 20
            while not (recovered := await sweep()).commands:
                assert time.monotonic() < deadline, "no sweep sent the approve move"
            assert recovered.commands == [f"{key} /approve"]
            state = await until_state(handle, lambda s: s.pending_gate != "PLAN", "the PLAN gate to pass")
            approvals = [(a.phase, a.actor, a.source) for a in state.approvals]  # type: ignore[attr-defined]
            assert approvals[-1] == ("PLAN", "sandbox-reviewer", Source.TRANSITION)
            assert (await sweep()).commands == []  # a move acts once
            await handle.terminate("test over")
    finally:
        engine.dispose()
        server.stop()
        await drop_namespace(temporal_env, client, [])
