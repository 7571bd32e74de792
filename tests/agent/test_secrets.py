"""Configured secrets reach the agent's command, and nowhere else: not logs, stored job logs, history or journals."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from app.agent_server.server import AgentServer
from tests.agent.conftest import TOKEN, world_settings
from tests.agent.dispatch_workflow import DispatchInput
from tests.agent.test_dispatch_activity import command, dispatching, start, stored
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
    # The command got the real values (their digests are printed) but its echo of them was masked.
    for name, value in (("ANTHROPIC_API_KEY", CODER_KEY), ("AGENT_GIT_TOKEN", GIT_TOKEN)):
        assert f"{name} sha256 {hashlib.sha256(value.encode()).hexdigest()}" in messages
        assert f"{name} is ***" in messages
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
