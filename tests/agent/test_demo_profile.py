"""The demo profile driven through the protocol: a branch with commits, a failing then passing test, a pushed branch."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.agent_client.proto import agent_pb2 as pb
from app.agent_server.server import AgentServer
from tests.agent.conftest import AgentWorld, collect, request, world_settings
from tests.conftest import free_port
from workflows.phases import PHASE_SPECS

KEY = "DEMO-7"
CONTEXT = json.dumps({"summary": "Greeting names the issue", "description": "The greeting should mention the issue."})


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def demo_world(tmp_path: Path) -> Iterator[AgentWorld]:
    world = world_settings(tmp_path, free_port(), profile="demo")
    server = AgentServer(world.settings)
    server.start()
    yield world
    server.stop(grace=1)


def run(world: AgentWorld, step: int, command: str) -> tuple[list[pb.ExecuteEvent], pb.Result]:
    with world.client() as client:
        job = request(f"run-{step}-{command}", command, issue_key=KEY, phase=command, prompt="Do it", context=CONTEXT)
        return collect(client.execute(job, timeout=60))


def test_demo_run_commits_fails_fixes_and_pushes(demo_world: AgentWorld) -> None:
    agents = demo_world.settings.agents
    assert git(agents.repo, "log", "--format=%s") == "Greeting service: greet() and its test"

    _, started = run(demo_world, 1, "startExecution")
    assert started.success and started.outputs["branch"] == f"jira/{KEY}"
    _, explored = run(demo_world, 2, "EXPLORE")
    assert "greeting: " in explored.outputs["findings"] and "greeting.py" in explored.outputs["findings"]
    _, planned = run(demo_world, 3, "PLAN")
    assert planned.outputs["plan"].startswith(f"# Plan for {KEY}: Greeting names the issue")
    _, coded = run(demo_world, 4, "CODE")
    assert coded.success and f"{KEY}: greet_issue and its test" in coded.outputs["commits"]

    test_events, first_test = run(demo_world, 5, "TEST")
    assert not first_test.success and first_test.error_kind == pb.ERROR_KIND_TESTS_FAILED
    assert "FAILED (failures=1)" in first_test.outputs["test_report"]
    assert any("AssertionError" in e.log.message for e in test_events if e.HasField("log"))

    _, fixed = run(demo_world, 6, "FIX")
    assert fixed.success and fixed.summary == "fixed greet_issue; the tests pass"
    _, second_test = run(demo_world, 7, "TEST")
    assert second_test.success and second_test.outputs["test_report"].endswith("OK")
    _, documented = run(demo_world, 8, "DOCUMENT")
    assert documented.outputs["changelog"].startswith(f"- {KEY}: Greeting names the issue")
    _, pushed = run(demo_world, 9, "createPR")
    assert pushed.success and pushed.outputs["pr_url"] == f"{agents.remote}#jira/{KEY}"
    phases = {"EXPLORE": explored, "PLAN": planned, "CODE": coded, "TEST": second_test, "FIX": fixed}
    phases["DOCUMENT"] = documented
    # What the workflow shows at each gate and hands on: the demo names each phase's work as the workflow reads it.
    assert all(PHASE_SPECS[phase].output in result.outputs for phase, result in phases.items())
    _, cleaned = run(demo_world, 10, "cleanup")
    assert cleaned.success and not (agents.workspace_dir / KEY).exists()

    subjects = git(agents.repo, "log", "--format=%s", f"main..jira/{KEY}").splitlines()
    assert subjects == [
        f"{KEY}: changelog",
        f"{KEY}: close the parenthesis in greet_issue",
        f"{KEY}: greet_issue and its test",
        f"{KEY}: plan",
    ]
    assert git(Path(agents.remote), "rev-parse", f"refs/heads/jira/{KEY}") == git(
        agents.repo, "rev-parse", f"jira/{KEY}"
    )
    assert git(Path(agents.remote), "rev-parse", "refs/heads/main") == git(agents.repo, "rev-parse", "main")
    author = git(agents.repo, "log", "-1", "--format=%an <%ae>", f"jira/{KEY}")
    assert author == "Orchestrator Agent <agent@orchestrator.invalid>"

    # The workspace comes back from the branch: the work survives a cleanup.
    _, again = run(demo_world, 11, "runVerification")
    assert again.success and (agents.workspace_dir / KEY / "issue_demo_7.py").is_file()
