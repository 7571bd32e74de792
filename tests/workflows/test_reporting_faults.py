"""No silent runs: a Jira refusal that no retry fixes (400, 403, 404, 413), injected into the sandbox Jira on one
reporting call at a time, ends the run visibly (completed, or failed with the Jira cause that the API, CLI and
dashboard show) within a bound. It never leaves the run waiting with nothing on the issue.

The sandbox is real HTTP behind the real gateway and the real Jira activities; only the agent is scripted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from app.jira_gateway.comments import STATUS_PROPERTY_PREFIX
from app.sandbox.faults import Fault
from app.sandbox.server import SandboxServer
from tests.sandbox.conftest import Receiver, gateway_for, sandbox_config
from tests.workflows.conftest import running_worker, until
from tests.workflows.fakes import FakeAgent, ok, typed
from workflows.ids import workflow_id_for
from workflows.messages import ApproveInput, CommandContext, OrchestrationInput, RunStatus
from workflows.orchestration import OrchestrationWorkflow
from workflows.results import PlanStep
from workflows.state import Cause, OrchestrationState

ISSUE = "/rest/api/2/issue/DEMO-1"
# Every call the run makes to report on the issue, refused for good (a deleted comment: once, as in life).
REFUSED = {
    "status property read": Fault("400", None, method="GET", path=f"/properties/{STATUS_PROPERTY_PREFIX}"),
    "status property set": Fault("403", None, method="PUT", path=f"/properties/{STATUS_PROPERTY_PREFIX}"),
    "comment posted": Fault("403", None, method="POST", path=f"{ISSUE}/comment", exact_path=True),
    "comment too long": Fault("413", None, method="POST", path=f"{ISSUE}/comment", exact_path=True),
    "comments listed": Fault("400", None, method="GET", path=f"{ISSUE}/comment", exact_path=True),
    "status comment deleted": Fault("404", 1, method="PUT", path=f"{ISSUE}/comment/"),
    "transitions listed": Fault("400", None, method="GET", path=f"{ISSUE}/transitions"),
    "transition forbidden": Fault("403", None, method="POST", path=f"{ISSUE}/transitions"),
    "labels edited": Fault("400", None, method="PUT", path=ISSUE, exact_path=True),
    "remote link": Fault("403", None, method="POST", path=f"{ISSUE}/remotelink"),
    "issue read": Fault("404", None, method="GET", path=ISSUE, exact_path=True),
}
# Writes the run can go on without: each refusal is said on the issue and the rest is still delivered.
SAID_AND_SKIPPED = {"transitions listed", "transition forbidden", "labels edited", "remote link"}
BOUND_SECONDS = 120  # wall clock for a whole run on the time-skipping server; a hang fails here, not at the timeout


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxServer:
    receiver = Receiver(url="http://127.0.0.1:9/webhooks/jira")  # nobody listens: webhooks are not under test
    server = SandboxServer(sandbox_config(tmp_path / "sandbox.json", receiver.url)).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.mark.parametrize("what", list(REFUSED))
async def test_a_refused_reporting_call_ends_the_run_visibly(
    time_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, sandbox: SandboxServer, what: str
) -> None:
    sandbox.faults.add(REFUSED[what])
    client = time_env.client
    async with running_worker(client, task_queue, sqlite_url, gateway_for(sandbox), FakeAgent()):  # type: ignore[arg-type]
        handle = await client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput(
                "DEMO-1",
                "DEMO",
                "sandbox-reporter",
                auto_proceed=True,
                board_labels=True,
                index_search_attributes=False,
            ),
            id=workflow_id_for("DEMO-1"),
            task_queue=task_queue,
        )
        try:
            result = await asyncio.wait_for(handle.result(), BOUND_SECONDS)
        except WorkflowFailureError:
            state: OrchestrationState = await handle.query(OrchestrationWorkflow.get_status)
            assert state.status == RunStatus.FAILED and state.failure is not None, state
            assert state.failure.cause in (Cause.JIRA, Cause.PERMISSION), state.failure
        else:
            assert result.status == RunStatus.COMPLETED
            comments = [c.body for c in gateway_for(sandbox).comments.list_comments("DEMO-1")]
            assert sum(body.startswith("🎉") for body in comments) == 1, comments
            said = [body for body in comments if body.startswith("⚠️ Jira refused")]
            assert len(said) == (what in SAID_AND_SKIPPED), comments  # what was dropped is said, once per kind
        description = await handle.describe()
        assert description.status != WorkflowExecutionStatus.RUNNING


async def test_a_refused_attachment_is_said_and_the_gate_still_asks(
    time_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, sandbox: SandboxServer
) -> None:
    sandbox.faults.add(Fault("413", None, method="POST", path=f"{ISSUE}/attachments"))
    agent = FakeAgent()
    plan = typed("PLAN")
    assert plan.plan is not None
    steps = [PlanStep(f"Step {n}: " + "change the retry cap " * 45) for n in range(200)]
    huge = replace(plan, plan=replace(plan.plan, steps=steps))
    agent.script("PLAN", lambda r: replace(ok(r), result=huge))
    client = time_env.client
    async with running_worker(client, task_queue, sqlite_url, gateway_for(sandbox), agent):  # type: ignore[arg-type]
        handle = await client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput("DEMO-1", "DEMO", "sandbox-reporter", gates=["PLAN"], index_search_attributes=False),
            id=workflow_id_for("DEMO-1"),
            task_queue=task_queue,
        )
        gateway = gateway_for(sandbox)

        def bodies() -> list[str]:
            return [c.body for c in gateway.comments.list_comments("DEMO-1")]

        await until(lambda: any(b.startswith("⚠️ Jira refused to attach") for b in bodies()), 60, "the refusal")
        await until(lambda: any("Waiting for approval" in b for b in bodies()), 60, "the gate comment")
        await handle.signal(
            OrchestrationWorkflow.approve, ApproveInput(CommandContext("sandbox-reviewer", "a-1", trusted=True))
        )
        result = await asyncio.wait_for(handle.result(), BOUND_SECONDS)
    assert result.status == RunStatus.COMPLETED
