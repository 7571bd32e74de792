"""`orchestrator queue ...` and `orchestrator agents ...` as a user runs them (subprocess, dev server, SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from app.store.db import make_engine, make_session_factory
from tests.conftest import free_port
from tests.jobqueue.conftest import add_job, job_input, rows
from workflows.queue_types import agent_schedule_ids

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")

pytestmark = pytest.mark.long


async def test_queue_and_agents_commands(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "JIRA_", "DATABASE_", "AGENT_"))}
    env.update(
        ORCHESTRATOR_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=sqlite_url,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE=task_queue,
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ORCHESTRATOR, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    factory = make_session_factory(make_engine(sqlite_url))
    for n in range(3):
        add_job(factory, job_input(f"cli-{n}", "CLIQ"))
    shown = run("queue", "show", "cliq")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.index("#1 cli-0") < shown.stdout.index("#2 cli-1") < shown.stdout.index("#3 cli-2")
    moved = run("queue", "move", "cli-2", "1")
    assert (moved.returncode, moved.stdout.strip()) == (0, "cli-2 is now #1 in its queue")
    assert [rows(factory)[f"cli-{n}"].position for n in range(3)] == [2, 3, 1]
    assert "queue CLIQ paused" in run("queue", "pause", "CLIQ").stdout
    assert "queue CLIQ: PAUSED" in run("queue", "show", "CLIQ").stdout
    assert "queue CLIQ resumed" in run("queue", "resume", "CLIQ").stdout  # and a monitor looks at once
    removed = run("queue", "remove", "cli-0")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert rows(factory)["cli-0"].status == "cancelled"
    again = run("queue", "remove", "cli-0")
    assert (again.returncode, again.stdout.strip()) == (
        1, "orchestrator: job cli-0 is cancelled, not queued: only a queued job can be removed",
    )  # fmt: skip

    address = f"127.0.0.1:{free_port()}"
    try:
        added = run("agents", "add", address, "--roles", "planner,test-runner")
        assert added.returncode == 0, added.stdout + added.stderr
        for schedule_id in agent_schedule_ids(address):
            described = await temporal_env.client.get_schedule_handle(schedule_id).describe()
            assert not described.schedule.state.paused
        listed = run("agents")
        assert f"{address}  online  healthy  roles=planner,test-runner  last seen never" in listed.stdout
    finally:
        for schedule_id in agent_schedule_ids(address):
            await temporal_env.client.get_schedule_handle(schedule_id).delete()
    bad = run("agents", "add", "no-port")
    assert (bad.returncode, bad.stdout.strip()) == (2, "orchestrator: agent address: expected host:port, got 'no-port'")
    assert "Traceback" not in bad.stdout + bad.stderr
    down = run("queue", "remove", "cli-1")
    assert down.returncode == 0  # Temporal is up here; the outage case is refused before any change:
    env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{free_port()}"
    refused = run("queue", "remove", "cli-2")
    assert refused.returncode == 1 and "cannot reach Temporal" in refused.stdout
    assert rows(factory)["cli-2"].status == "queued"
