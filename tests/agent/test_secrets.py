"""Configured secrets reach only the steps that need them, and nowhere else: not logs, stored job logs, history,
the database, journals or the environment of TEST; and a hook a TEST plants never runs at a push."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from app.agent_server import confinement
from app.agent_server.askpass import SCRIPT as ASKPASS_SCRIPT
from app.agent_server.server import AgentServer
from tests.agent.conftest import ECHO_ENV, TOKEN, AgentWorld, world_settings
from tests.agent.dispatch_workflow import DispatchInput
from tests.agent.test_dispatch_activity import command, dispatching, start, stored
from tests.agent.test_handover import COMMIT_WORK
from tests.chaos.report import FIGURES
from tests.conftest import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")

GIT_TOKEN = "ghp_gitTokenValue1234567890"
CODER_KEY = "sk-ant-coderKeyValue0987654321"


async def test_no_secret_appears_in_logs_stored_logs_or_history(
    temporal_env: WorkflowEnvironment, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = world_settings(
        tmp_path, free_port(), AGENT_GIT_TOKEN=GIT_TOKEN, AGENT_GIT_USERNAME="bot", AGENT_CODER_API_KEY=CODER_KEY
    )
    server = AgentServer(world.settings)
    server.start()
    try:
        client = temporal_env.client
        async with dispatching(client, world, sqlite_url) as (task_queue, factory):
            params = DispatchInput(command(world, "secret-1", "EXPLORE"), with_credentials=True)
            handle = await start(client, task_queue, params)
            outcome = await handle.result()
            # Raw bytes of every event: payloads are base64 in the JSON form, plain bytes in the protobuf form.
            history = b"".join(e.SerializeToString() for e in (await handle.fetch_history()).events).decode(
                errors="replace"
            )
    finally:
        server.stop(grace=1)
    assert outcome.success
    messages = [row.message for row in stored(factory, "secret-1")]
    # The AI phase got the coder key (its digest is printed) but its echo of it was masked; the git token is
    # for the hand-over's git calls only.
    assert f"ANTHROPIC_API_KEY sha256 {hashlib.sha256(CODER_KEY.encode()).hexdigest()}" in messages
    assert "ANTHROPIC_API_KEY is ***" in messages
    assert f"AGENT_GIT_TOKEN sha256 {hashlib.sha256(b'').hexdigest()}" in messages
    assert "git:default" in history and "agent:default" in history  # references, not values
    assert "ANTHROPIC_API_KEY sha256" in history  # the scan does see payload contents
    journals = "".join(p.read_text() for p in world.settings.agents.workspace_dir.rglob("*") if p.is_file())
    places = {
        "caplog": caplog.text,
        "stored job logs": "\n".join(messages),
        "outcome": repr(outcome),
        "workflow history": history,
        "agent journals": journals,
    }
    for secret in (GIT_TOKEN, CODER_KEY, TOKEN):
        for place, text in places.items():
            assert secret not in text, f"a configured secret leaked into the {place}"


CANARY_ENV = Path(__file__).parent / "canary_env.py"
CANARY = "ghp_canaryTokenValue5555aaaa9999"
# An AI phase that looks for the .env holding every service's secrets on a shared host (prints only its size).
READ_DOTENV = (
    "import pathlib, sys; p = pathlib.Path(sys.argv[1]); print('read .env', len(p.read_text()) if p.exists() else 0)"
)


def canary_profile(tmp_path: Path, control: Path, repo: Path, askpass: Path, home: Path) -> str:
    """EXPLORE echoes its credentials, PLAN looks for the .env, CODE commits (the hand-over pushes it), TEST is
    hostile (canary_env.py), createPR pushes."""
    path = tmp_path / "canary.toml"
    path.write_text(
        f"""
name = "canary"
[defaults]
stdin = "none"
timeout = "2m"

[commands.EXPLORE]
run = ["{{python}}", "{ECHO_ENV}"]

[commands.PLAN]
run = ["{{python}}", "-c", "{READ_DOTENV}", "{home}/project/.env"]

[commands.CODE]
run = ["{{python}}", "{COMMIT_WORK}", "{control}", "{{job_file}}"]

[commands.TEST]
run = ["{{python}}", "{CANARY_ENV}", "{control}", "{repo}", "{askpass}", "{home}", "{home}/project/.env"]

[commands.createPR]
run = ["git", "push", "--porcelain", "{{remote}}", "{{branch}}:refs/heads/{{branch}}"]
"""
    )
    return str(path)


def disguises(secret: str) -> dict[str, str]:
    """The secret as a leak might show it: raw, in halves, and base64'd at each of the three alignments."""
    forms = {"raw": secret, "first half": secret[: len(secret) // 2], "second half": secret[len(secret) // 2 :]}
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + secret.encode()).decode()
        forms[f"base64+{pad}"] = encoded[4:-4]  # the part that does not depend on the bytes around it
    return forms


@pytest.mark.parametrize("confined", [True, False], ids=["confined", "snapshot-only"])
async def test_a_canary_token_reaches_only_its_steps_and_no_hook_runs_at_the_push(
    temporal_env: WorkflowEnvironment,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    confined: bool,
) -> None:
    if not confined:
        monkeypatch.setattr(confinement, "available", lambda env: False)  # as on a host that refuses namespaces
    elif not confinement.available({"PATH": os.environ.get("PATH", "")}):
        pytest.skip("this host does not allow mount namespaces")
    caplog.set_level(logging.DEBUG)
    control, repo = tmp_path / "control", tmp_path / "var" / "agent" / "demo-repo"
    askpass = tmp_path / "var" / "agent" / "workspaces" / ".askpass.sh"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    if confined:  # the agent user's own credential files: hidden from a confined TEST (readable without it)
        (home / ".git-credentials").write_text(f"https://bot:{CANARY}@git.example\n")
        (home / ".ssh" / "id_ed25519").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{CANARY}\n")
        # The .env the agent read its settings from (here only to be found: the test passes the settings in).
        (home / "project").mkdir()
        (home / "project" / ".env").write_text(f"AGENT_GIT_TOKEN={CANARY}\n")
        monkeypatch.chdir(home / "project")
    control.mkdir()
    world = world_settings(
        tmp_path,
        free_port(),
        profile=canary_profile(tmp_path, control, repo, askpass, home),
        HOME=str(home),
        AGENT_GIT_TOKEN=CANARY,
        AGENT_GIT_USERNAME="bot",
        AGENT_CODER_API_KEY=CANARY,
    )
    assert world.settings.agents.repo == repo.resolve()
    server = AgentServer(world.settings)
    server.start()
    outcomes, history = {}, ""
    try:
        client = temporal_env.client
        async with dispatching(client, world, sqlite_url) as (task_queue, factory):
            for name in ("EXPLORE", "PLAN", "TEST", "CODE", "createPR"):
                params = DispatchInput(command(world, f"canary-{name}", name), with_credentials=True, attempts=1)
                handle = await start(client, task_queue, params)
                outcomes[name] = await handle.result()
                events = (await handle.fetch_history()).events
                history += b"".join(e.SerializeToString() for e in events).decode(errors="replace")
    finally:
        server.stop(grace=1)
    assert all(outcome.success for outcome in outcomes.values()), outcomes
    messages = [row.message for name in outcomes for row in stored(factory, f"canary-{name}")]
    # The AI phase had the key (its digest), TEST had nothing: its whole environment is in its own dump.
    assert f"ANTHROPIC_API_KEY sha256 {hashlib.sha256(CANARY.encode()).hexdigest()}" in messages
    test_env = (control / "test-env.txt").read_text()
    assert f"HOME={tmp_path}/var/agent/workspaces/.snapshots/DEMO-1.home" in test_env.splitlines()
    assert "AGENT_GIT_TOKEN" not in test_env and "ANTHROPIC_API_KEY" not in test_env and "GIT_ASKPASS" not in test_env
    real_hooks = repo.resolve() / ".git" / "hooks"
    if confined:
        # The host confines TEST: the shared repository was read-only to it.
        assert f"refused: a pre-push hook in {real_hooks} Read-only file system" in messages
        assert f"refused: core.hooksPath in {repo.resolve()}" in messages
        assert any(m.startswith("refused: the askpass helper") for m in messages)
        assert "refused: the job's journal Read-only file system" in messages
        assert f"read {home}/.git-credentials 0 characters:  | " in messages  # /dev/null over it
        assert f"refused: reading {home}/.ssh/id_ed25519 No such file or directory" in messages  # an empty tmpfs
        assert f"read {home}/project/.env 0 characters:  | " in messages
        assert "read .env 0" in messages  # the AI phase is confined too
    else:
        # Written by path, then put back when the command ended.
        assert f"planted a pre-push hook in {real_hooks}" in messages
        assert any("changed the repository's git config or hooks; put back" in m for m in messages)
        assert "replaced the askpass helper" in messages
    assert askpass.read_text() == ASKPASS_SCRIPT and not (control / "stolen").exists()  # the agent's own again
    # The hooks were planted, yet neither the hand-over's push after CODE nor createPR's push ran one, and the
    # shared repository's hooks and config are as they were.
    assert not (control / "hook-ran").exists(), "a planted hook ran at a push"
    assert remote_subjects(world) == ["DEMO-1: CODE by canary-CODE"]  # the pushes happened
    assert not (repo / ".git" / "hooks" / "pre-push").exists()
    assert "hooksPath" not in (repo / ".git" / "config").read_text()
    database = Path(sqlite_url.removeprefix("sqlite:///")).read_bytes().decode(errors="replace")
    on_disk = "".join(
        p.read_bytes().decode(errors="replace")
        for root in (tmp_path / "var", control)
        for p in root.rglob("*")
        if p.is_file()
    )
    places = {
        "caplog": caplog.text,
        "stored job logs": "\n".join(messages),
        "outcomes": repr(outcomes),
        "workflow history": history,
        "database": database,
        "journals, workspaces and repositories": on_disk,
        "the TEST environment": test_env,
    }
    forms = disguises(CANARY)
    leaks = [f"{form} in the {place}" for form, text in forms.items() for place, hay in places.items() if text in hay]
    scenario = (
        f"The secret canary ({'confined' if confined else 'snapshot only'}): one token as git token and coder key"
    )
    FIGURES.add(scenario, f"Places searched × disguises ({', '.join(forms)})", f"{len(places)} × {len(forms)}")
    FIGURES.add(scenario, "Where the token was found", ", ".join(leaks) or "nowhere", "nowhere")
    FIGURES.add(scenario, "Hooks run at the hand-over and createPR pushes", int((control / "hook-ran").exists()), 0)
    assert not leaks, f"the canary token leaked: {leaks}"


def remote_subjects(world: AgentWorld) -> list[str]:
    """The subjects of the issue branch's commits on the agent's remote, on top of main."""
    done = subprocess.run(
        ["git", "log", "--format=%s", "main..jira/DEMO-1"],
        cwd=world.settings.agents.remote,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()
