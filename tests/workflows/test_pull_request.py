"""The run's pull request (FORGE set): opened once per issue branch, updated by re-runs, refusals typed."""

from __future__ import annotations

import uuid

import responses
from temporalio.testing import WorkflowEnvironment

from app.forge import ForgePermission
from app.forge.github import GitHubForge
from tests.forge.conftest import GITHUB, REPO, TOKEN, Waits, github_pull, github_repo
from tests.workflows.conftest import Harness, keep_history, running_worker, until_state
from tests.workflows.fakes import APPROVER, FakeAgent, FakeJira, typed
from workflows.ids import workflow_id_for
from workflows.messages import ApproveInput, CommandContext, OrchestrationInput, RetryInput, RunStatus, Source
from workflows.orchestration import OrchestrationWorkflow

PR_GLOBAL_ID = "jira-orchestrator:{key}:pr"


def by(delivery: str) -> CommandContext:
    return CommandContext(actor=APPROVER, delivery_id=delivery, source=Source.COMMENT)


async def test_a_completed_run_opens_one_pull_request_and_links_it(harness: Harness) -> None:
    handle = await harness.start(gates=["PLAN"], forge=True)
    await until_state(handle, lambda s: s.pending_gate == "PLAN", "the PLAN gate")
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by("p1")))
    result = await handle.result()
    await keep_history(handle, "forge_pull_request")

    assert result.status == RunStatus.COMPLETED
    (draft,) = harness.forge.drafts
    assert draft.head == f"jira/{harness.key}" and draft.title == f"{harness.key}: Add a greeting function"
    assert f"Jira issue: [{harness.key}](https://jira.test/browse/{harness.key})" in draft.body
    plan = typed("PLAN").plan
    assert plan is not None and f"1. {plan.steps[0].what}" in draft.body
    assert "- Tests: 2 passed, 0 failed" in draft.body and f"- PLAN: {APPROVER}" in draft.body
    url = "https://forge.test/acme/shop/pull/1"
    assert result.pr_url == url
    assert harness.jira.links == {PR_GLOBAL_ID.format(key=harness.key): url}
    summary = next(t for t in harness.jira.texts() if t.startswith("🎉"))
    assert url in summary


async def test_a_re_run_updates_the_same_pull_request(harness: Harness) -> None:
    for _ in range(2):
        handle = await harness.start(auto_proceed=True, forge=True)
        assert (await handle.result()).status == RunStatus.COMPLETED
    assert len(harness.forge.drafts) == 2 and len(harness.forge.pulls) == 1


async def test_a_refused_token_blocks_the_run_with_cause_permission_and_retry_opens_it(harness: Harness) -> None:
    harness.forge.refuse = ForgePermission("pull request for jira/X: the forge answered 403 (Forbidden)", 403)
    handle = await harness.start(auto_proceed=True, forge=True)
    state = await until_state(handle, lambda s: s.status == RunStatus.FAILED, "the forge to refuse")
    assert state.failure is not None and state.failure.phase == "DOCUMENT"
    assert state.failure.cause.value == "permission" and "403" in state.failure.message
    assert len(harness.forge.drafts) == 1  # a refused token is not retried

    harness.forge.refuse = None
    await handle.signal(OrchestrationWorkflow.retry, RetryInput(by("r1")))
    assert (await handle.result()).pr_url == "https://forge.test/acme/shop/pull/1"
    assert len(harness.forge.pulls) == 1


async def test_without_a_forge_the_pushed_branch_stays_the_link(harness: Harness) -> None:
    result = await (await harness.start(auto_proceed=True)).result()
    assert result.pr_url == f"file:///remote.git#jira/{harness.key}" and harness.forge.drafts == []


@responses.activate
async def test_the_github_provider_end_to_end_keeps_its_token_out_of_the_history(
    time_env: WorkflowEnvironment, sqlite_url: str
) -> None:
    key = f"FORGE-{uuid.uuid4().int % 10**6 + 1}"
    head = f"jira/{key}"
    responses.add_passthru("http://127.0.0.1")  # anything local (none expected) is not the forge
    responses.get(f"{REPO}/pulls", json=[])
    responses.get(REPO, json=github_repo())
    created = {**github_pull(9), "head": {"label": f"acme:{head}", "ref": head, "sha": "c" * 40}}
    responses.post(f"{REPO}/pulls", json=created, status=201)
    forge = GitHubForge(GITHUB, "acme/shop", TOKEN, 5.0, Waits().policy())
    queue = f"forge-{uuid.uuid4()}"
    async with running_worker(time_env.client, queue, sqlite_url, FakeJira(), FakeAgent(), forge=forge):
        handle = await time_env.client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput(key, "FORGE", auto_proceed=True, index_search_attributes=False, forge=True),
            id=workflow_id_for(key),
            task_queue=queue,
        )
        result = await handle.result()
        history = (await handle.fetch_history()).to_json()

    assert result.pr_url == "https://github.com/acme/shop/pull/9"
    assert [c.request.method for c in responses.calls].count("POST") == 1
    assert TOKEN not in history and "Authorization" not in history
