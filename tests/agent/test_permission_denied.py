"""A remote that refuses the job's git credentials: the job ends PERMISSION_DENIED and nobody retries it.

Real git, a real agent over loopback gRPC, and a git wrapper standing in for an https code host: it asks the
askpass helper for the token as git would, and refuses every push in the host's words (the token echoed into
the URL, as a careless remote URL would, so the test also sees that it never comes back).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from app.agent_client.proto import agent_pb2 as pb
from tests.agent.conftest import AgentWorld
from tests.agent.dispatch_workflow import DispatchInput
from tests.agent.test_dispatch_activity import command, dispatching, start
from tests.agent.test_handover import BRANCH, ENV, Remote, clone_world, git, make_remote, run, serving

TOKEN = "ghp_expiredTokenValue0123456789"
REFUSING_GIT = """#!/bin/sh
# An https host that refuses the job's token for every push; every other call goes to the real git.
if [ "$1" = push ]; then
  password=$("$GIT_ASKPASS" "Password for 'https://bot@git.example': ")
  echo push >> "{log}"
  echo "remote: Invalid username or password." >&2
  echo "fatal: Authentication failed for 'https://bot:$password@git.example/demo.git/'" >&2
  exit 128
fi
exec "{git}" "$@"
"""
REFUSAL = "refused the agent's git credentials (push): remote: Invalid username or password."


def refusing_world(tmp_path: Path) -> tuple[AgentWorld, Remote, Path]:
    """An agent whose remote already has jira/DEMO-1 (so the job starts without a push) and refuses pushes."""
    remote = make_remote(tmp_path)
    git(remote.path, "branch", BRANCH, "main")
    shim, pushes = tmp_path / "shim", tmp_path / "pushes"
    shim.mkdir()
    (shim / "git").write_text(REFUSING_GIT.format(log=pushes, git=shutil.which("git")))
    (shim / "git").chmod(0o755)
    world = clone_world(
        tmp_path,
        "a",
        remote,
        "commit",
        PATH=f"{shim}:{ENV['PATH']}",
        AGENT_GIT_USERNAME="bot",
        AGENT_GIT_TOKEN=TOKEN,
    )
    # createPR as the shipped profiles run it: git pushes the branch itself.
    profile = Path(world.settings.agents.profile)
    profile.write_text(
        profile.read_text()
        + '\n[commands.createPR]\nrun = ["git", "push", "--porcelain", "{remote}", "{branch}:refs/heads/{branch}"]\n'
    )
    return world, remote, pushes


def test_the_push_after_the_work_refused_for_credentials_is_permission_denied(tmp_path: Path) -> None:
    world, remote, pushes = refusing_world(tmp_path)
    before = remote.tip()
    with serving(world):
        log, result = run(world, "code-1", "CODE", credentials=pb.Credentials(git_username="bot", git_token=TOKEN))
    assert result.error_kind == pb.ERROR_KIND_PERMISSION_DENIED
    assert result.error_message == f"{remote.path} {REFUSAL}"
    assert remote.tip() == before and pushes.read_text().split() == ["push"]
    assert TOKEN not in str(result) and not any(TOKEN in line for line in log)


def test_createprs_push_refused_for_credentials_is_permission_denied(tmp_path: Path) -> None:
    world, _, pushes = refusing_world(tmp_path)
    with serving(world):
        log, result = run(world, "pr-1", "createPR", credentials=pb.Credentials(git_username="bot", git_token=TOKEN))
    assert result.error_kind == pb.ERROR_KIND_PERMISSION_DENIED
    assert result.error_message.startswith("createPR: ") and REFUSAL in result.error_message
    assert pushes.read_text().split() == ["push"]
    assert TOKEN not in str(result) and not any(TOKEN in line for line in log)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_dispatch_activity_does_not_retry_a_refused_credential(
    temporal_env: WorkflowEnvironment, tmp_path: Path, sqlite_url: str
) -> None:
    world, remote, pushes = refusing_world(tmp_path)
    client = temporal_env.client
    with serving(world):
        async with dispatching(client, world, sqlite_url) as (task_queue, _):
            params = DispatchInput(command(world, "code-1", "CODE"), attempts=3, with_credentials=True)
            handle = await start(client, task_queue, params)
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "PermissionDenied" and cause.cause.non_retryable
    assert cause.retry_state is not None and cause.retry_state.name == "NON_RETRYABLE_FAILURE"
    assert cause.cause.message == f"{remote.path} {REFUSAL}" and cause.cause.details[0] == "PERMISSION_DENIED"
    assert (world.control / "starts").read_text().split() == ["code-1"]  # one attempt: the work ran once
    assert pushes.read_text().split() == ["push"]
    assert TOKEN not in str(cause.cause.message)
