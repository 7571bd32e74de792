"""A re-run updates the one pull request (issue 12): label DEMO-1, the run completes and opens its pull request on
the sandbox forge; label it again after Done, the second run completes and updates that pull request's description.
Then a person merges it on the forge, whose webhook never reaches us (the sandbox forge sends none): the worker's
reconciliation sweep finds the merge and says so on the issue, once however many sweeps see it.

The processes are those of `make run` (sandbox Jira and forge, web, worker, demo agent) with
ORCHESTRATOR_AUTO_PROCEED=true, so no gate waits for a person (test_full_run.py drives the gates).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from app.config import SANDBOX_FORGE_TOKEN
from app.sandbox.people import SandboxPerson
from tests.e2e.harness import Stack, drop_namespace, eventually, own_namespace

pytestmark = pytest.mark.e2e

KEY = "DEMO-1"
TRIGGER = "ai-orchestrate"


@pytest.fixture
async def auto_stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[tuple[Stack, Any]]:
    """`make run`'s processes, auto-proceeding through the gates, in a namespace of their own."""
    client = await own_namespace(temporal_env)
    stack = Stack(tmp_path, temporal_env.client.service_client.config.target_host)
    stack.env.update(TEMPORAL_NAMESPACE=client.namespace, ORCHESTRATOR_AUTO_PROCEED="true", RECONCILE_INTERVAL="1s")
    try:
        for name, args in (("sandbox", ["sandbox", "serve"]), ("agent", ["agent"]), ("web", ["web"])):
            stack.start(name, *args)
        stack.start("worker", "worker")
        yield stack, client
    finally:
        stack.stop()
        await drop_namespace(temporal_env, client, stack.schedule_ids())


def pulls(stack: Stack) -> list[dict[str, Any]]:
    """The sandbox forge's pull requests, as the GitHub API lists them."""
    url = f"{stack.jira_url}/forge/api/repos/demo/demo-repo/pulls?state=all"
    request = urllib.request.Request(url, headers={"Authorization": f"token {SANDBOX_FORGE_TOKEN}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the loopback sandbox
        found: list[dict[str, Any]] = json.loads(response.read())
    return found


def status(stack: Stack) -> str:
    return str(stack.rest(f"issue/{KEY}?fields=status")["fields"]["status"]["name"])


async def test_labelling_again_after_done_updates_the_same_pull_request(auto_stack: tuple[Stack, Any]) -> None:
    stack, client = auto_stack
    reviewer = SandboxPerson(stack.jira_url, "reviewer")
    await eventually(stack, lambda: bool(stack.rest("myself")), "the sandbox")
    reviewer.label(KEY, TRIGGER)
    await eventually(stack, lambda: status(stack) == "Done", "the first run to reach Done", 180)
    await eventually(stack, lambda: len(pulls(stack)) == 1, "the pull request")
    [first] = pulls(stack)
    link = f"{stack.jira_url}/forge/demo/demo-repo/pull/{first['number']}"
    assert [entry["object"]["url"] for entry in stack.rest(f"issue/{KEY}/remotelink")] == [link]
    handle = client.get_workflow_handle(f"orchestration-{KEY}")
    first_run = (await handle.describe()).run_id

    async def first_closed() -> bool:
        return (await client.get_workflow_handle(handle.id, run_id=first_run).describe()).status != (
            WorkflowExecutionStatus.RUNNING
        )

    await eventually(stack, first_closed, "the first run to close", 60)

    # Labelling again after Done (the label is taken off and put back, as a person does): a second run.
    reviewer.label(KEY, TRIGGER, remove=True)
    reviewer.label(KEY, TRIGGER)

    async def second_completed() -> bool:
        run = await client.get_workflow_handle(handle.id).describe()
        return run.run_id != first_run and run.status == WorkflowExecutionStatus.COMPLETED

    await eventually(stack, second_completed, "the second run to complete", 240)
    [again] = pulls(stack)
    assert again["number"] == first["number"] and again["head"]["ref"] == f"jira/{KEY}"
    assert again["updated_at"] > first["updated_at"], (first, again)  # its description was written again
    assert again["body"].startswith(f"Jira issue: [{KEY}]")
    assert [(p["path"], p["head"]) for p in stack.forge_posts()] == [
        ("/forge/api/repos/demo/demo-repo/pulls", f"jira/{KEY}")
    ]  # one POST over both runs
    assert [entry["object"]["url"] for entry in stack.rest(f"issue/{KEY}/remotelink")] == [link]  # one link
    assert status(stack) == "Done"

    # Merged on the forge with no webhook: a sweep tells the issue, and later sweeps tell it nothing more.
    merge_on_the_forge(stack, first["number"])
    said = f"The pull request [{link}|{link}] was merged."
    await eventually(stack, lambda: merged_comments(stack, said) == 1, "the sweep to tell the merge", 60)
    sweeps_before = (stack.dir / "worker.log").read_text().count("reconcile.merges-told")
    merge_id = f"pull-request-{KEY}-github-{first['number']}-merged"
    merge_run = client.get_workflow_handle(merge_id)

    async def merge_told() -> bool:  # the comment, then the transition (already Done): then it completes
        return (await merge_run.describe()).status == WorkflowExecutionStatus.COMPLETED

    await eventually(stack, merge_told, "the merge's workflow to complete", 60)
    closed = await merge_run.describe()

    closed_at = closed.close_time
    assert closed_at is not None
    sweeps = 'WorkflowType = "ReconcileWorkflow" AND ExecutionStatus = "Completed"'
    query = f'{sweeps} AND StartTime > "{closed_at.isoformat()}"'

    async def swept_twice_more() -> bool:
        return len([run async for run in client.list_workflows(query)]) >= 2

    await eventually(stack, swept_twice_more, "two more sweeps", 60)
    assert merged_comments(stack, said) == 1
    assert (stack.dir / "worker.log").read_text().count("reconcile.merges-told") == sweeps_before == 1
    assert status(stack) == "Done"


def merge_on_the_forge(stack: Stack, number: int) -> None:
    """Merge the pull request on the sandbox forge, as a person would (it sends no webhook)."""
    merge = f"{stack.jira_url}/forge/_admin/pulls/{number}/merge"
    urllib.request.urlopen(urllib.request.Request(merge, method="POST"), timeout=10).close()  # noqa: S310


def merged_comments(stack: Stack, said: str) -> int:
    """The bot's comments on the issue saying `said`."""
    comments = stack.rest(f"issue/{KEY}/comment?maxResults=100")["comments"]
    return sum(said in c["body"] for c in comments if c["author"]["accountId"] == "sandbox-bot")
