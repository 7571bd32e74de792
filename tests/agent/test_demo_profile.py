"""The demo profile driven through the protocol: a branch with commits, a failing then passing test, a pushed branch."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.results import read_result
from app.agent_server.server import AgentServer
from tests.agent.conftest import AgentWorld, collect, request, world_settings
from tests.conftest import free_port
from workflows.phases import PHASE_SPECS
from workflows.results import PhaseResult

KEY = "DEMO-7"
# As the workflow words it (workflows/report.py phase_prompt): phase and role names that are not the issue's.
PROMPT = f"Explore the issue and the repository. Issue {KEY}: Greeting names the issue. Roles: triage-agent."
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
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
        job = request(f"run-{step}-{command}", command, issue_key=KEY, phase=command, prompt=PROMPT, context=CONTEXT)
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
    # Each phase's typed result meets the schema and carries figures read off the real work.
    typed = {phase: read_result(phase, result.result) for phase, result in phases.items()}
    for phase, result in phases.items():  # the fixtures the workflow fakes return have the demo's shape
        assert_same_keys(json.loads(result.result), json.loads((FIXTURES / f"{phase}.json").read_text()), phase)
    first_run = read_result("TEST", first_test.result)
    assert_typed_figures(typed, first_run, git(agents.repo, "show", "--numstat", "--format=", f"jira/{KEY}~2"))
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


def assert_typed_figures(typed: dict[str, PhaseResult | None], first_run: PhaseResult | None, code_stat: str) -> None:
    """The demo's typed results against the work itself: files found, plan steps, diff stat, test counts."""
    explore = typed["EXPLORE"].explore if typed["EXPLORE"] else None
    assert explore is not None and "greeting.py" in explore.affected_files
    assert explore.requirements == ["The greeting should mention the issue."]
    assert [q.split("'")[1] for q in explore.open_questions] == ["mention"]  # the issue's words, not the prompt's
    plan = typed["PLAN"].plan if typed["PLAN"] else None
    assert plan is not None and plan.steps[0].what.startswith("Add greet_issue(name)")
    assert "CHANGELOG.md" in plan.files and plan.risk == "low"
    code = typed["CODE"].code if typed["CODE"] else None
    numstat = [line.split("\t") for line in code_stat.splitlines() if line]
    assert code is not None and sorted(code.files_changed) == sorted(name for _, _, name in numstat)
    assert code.lines_added == sum(int(added) for added, _, _ in numstat) and code.lines_removed == 0
    failing = first_run.test if first_run else None
    assert failing is not None and (failing.passed, failing.failed) == (1, 1)
    assert failing.failures[0].name.startswith("test_names_the_issue")
    assert failing.failures[0].error.startswith("AssertionError: 'Hello, Ada! (DEMO-7' != 'Hello, Ada! (DEMO-7)'")
    passing = typed["TEST"].test if typed["TEST"] else None
    assert passing is not None and (passing.passed, passing.failed, passing.failures) == (2, 0, [])
    fix = typed["FIX"].fix if typed["FIX"] else None
    assert fix is not None and fix.why.startswith("test_names_the_issue") and "AssertionError" in fix.why
    assert fix.files_changed == ["issue_demo_7.py"] and (fix.lines_added, fix.lines_removed) == (1, 1)
    docs = typed["DOCUMENT"].document if typed["DOCUMENT"] else None
    assert docs is not None and docs.docs_touched == ["CHANGELOG.md"] and docs.changelog.startswith("- DEMO-7:")


def assert_same_keys(real: object, fixture: object, where: str) -> None:
    """The same object keys all the way down (lists compared by their first items)."""
    if isinstance(real, dict) and isinstance(fixture, dict):
        assert set(real) == set(fixture), where
        for key in real:
            assert_same_keys(real[key], fixture[key], f"{where}.{key}")
    elif isinstance(real, list) and isinstance(fixture, list) and real and fixture:
        assert_same_keys(real[0], fixture[0], f"{where}[0]")
