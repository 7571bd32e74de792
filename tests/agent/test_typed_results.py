"""Typed phase results: the schema and the dataclasses agree, and the dispatch activity checks what agents send.

The fixtures in tests/fixtures/results are what the demo profile writes (tests/agent/test_demo_profile.py checks
the demo's documents have their shape); the workflow fakes return them, so the fakes and the real agent agree.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.agent_types import AgentCommand
from app.agent_client.results import MAX_DOCUMENT, read_result, schema
from app.agent_server.execution import RESULT_SCHEMA
from app.agent_server.server import AgentServer
from tests.agent.conftest import AgentWorld, world_settings
from tests.agent.dispatch_workflow import DispatchInput
from tests.agent.test_dispatch_activity import dispatching, start
from tests.conftest import free_port
from workflows.results import PHASE_KEYS, PhaseResult, Plan, PlanStep, ResultError, figures, from_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
# A profile whose EXPLORE and PLAN write the prompt (a result document, as a test chooses it) to the result file.
WRITES_PROMPT = """
name = "writes-results"
[defaults]
stdin = "prompt"
timeout = "1m"
[commands.EXPLORE]
run = ["{python}", "-c", "import os, sys; open(os.environ['AGENT_RESULT_FILE'], 'w').write(sys.stdin.readline())"]
[commands.PLAN]
run = ["{python}", "-c", "import os, sys; open(os.environ['AGENT_RESULT_FILE'], 'w').write(sys.stdin.readline())"]
"""


def fixture(name: str) -> dict[str, Any]:
    """A result document the demo profile writes."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def dataclass_of(hint: object) -> type | None:
    """The dataclass inside `X | None` or `list[X]`, if any."""
    args = typing.get_args(hint)
    for candidate in (hint, *args):
        if dataclasses.is_dataclass(candidate) and isinstance(candidate, type):
            return candidate
    return None


def assert_same_shape(cls: type, node: dict[str, Any], where: str) -> None:
    """Every dataclass field is a schema property and the other way round, all the way down."""
    hints = typing.get_type_hints(cls)
    assert set(hints) == set(node["properties"]), where
    for name, hint in hints.items():
        inner = dataclass_of(hint)
        if inner is None:
            continue
        prop = node["properties"][name]
        assert_same_shape(inner, prop["items"] if prop.get("type") == "array" else prop, f"{where}.{name}")


def test_the_schema_and_the_dataclasses_name_the_same_fields() -> None:
    document = schema()
    sections = {name for name in document["properties"] if name != "version"}
    assert sections == set(PHASE_KEYS.values())
    for field in dataclasses.fields(PhaseResult):
        if field.name == "version":
            continue
        hint = typing.get_type_hints(PhaseResult)[field.name]
        assert isinstance(hint, types.UnionType)
        section = dataclass_of(hint)
        assert section is not None
        assert_same_shape(section, document["properties"][field.name], field.name)


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture_meets_the_schema(name: str) -> None:
    phase = name.split("-")[0]
    typed = read_result(phase, (FIXTURES / f"{name}.json").read_text())
    assert typed is not None and getattr(typed, PHASE_KEYS[phase]) is not None


@pytest.mark.parametrize(
    ("phase", "raw", "message"),
    [
        ("PLAN", "{not json", "the result document is not JSON"),
        ("PLAN", json.dumps({"version": 1, "plan": {"steps": [{"what": 5}]}}), "$.plan.steps[0].what: 5 is not of"),
        ("PLAN", json.dumps({"version": 1, "plan": {"steps": []}}), "$.plan.steps: [] should be non-empty"),
        ("TEST", json.dumps({"version": 1, "test": {"passed": -1, "failed": 0}}), "$.test.passed: -1 is less"),
        ("CODE", json.dumps({"version": 1, "code": {"files_changed": [], "extra": 1}}), "'extra' was unexpected"),
        ("CODE", json.dumps({"version": 2, "code": {"files_changed": []}}), "$.version: 1 was expected"),
        ("CODE", json.dumps({"version": 1, "plan": {"steps": [{"what": "x"}]}}), "exactly one section, 'code'"),
        ("CODE", json.dumps({"version": 1}), "does not have enough properties"),
        ("CODE", json.dumps(["a list"]), "is not of type 'object'"),
        ("CODE", "x" * (MAX_DOCUMENT + 1), "at most 262144 are accepted"),
    ],
)
def test_a_malformed_document_is_refused_with_where_and_what(phase: str, raw: str, message: str) -> None:
    with pytest.raises(ResultError) as refused:
        read_result(phase, raw)
    assert message in str(refused.value)


def test_text_only_is_untyped_and_figures_read_the_typed() -> None:
    assert read_result("CODE", "") is None and figures(None) == ""
    assert figures(from_document("TEST", fixture("TEST-failing"))) == "1 passed / 1 failed"
    assert figures(from_document("CODE", fixture("CODE"))) == "2 files, +16 −0"
    assert figures(from_document("FIX", fixture("FIX"))) == "1 file, +1 −1"
    assert figures(from_document("PLAN", fixture("PLAN"))) == "4 steps, risk low"
    covered = from_document("TEST", {"version": 1, "test": {"passed": 12, "failed": 0, "coverage": 87.5}})
    assert figures(covered) == "12 passed / 0 failed, coverage 87.5 %"
    plan = from_document("PLAN", fixture("PLAN")).plan
    assert isinstance(plan, Plan) and isinstance(plan.steps[0], PlanStep)


@pytest.fixture
def writes_prompt(tmp_path: Path) -> AgentWorld:
    profile = tmp_path / "writes-results.toml"
    profile.write_text(WRITES_PROMPT)
    world = world_settings(tmp_path, free_port(), profile=str(profile))
    server = AgentServer(world.settings)
    server.start()
    yield world
    server.stop(grace=1)


def command(world: AgentWorld, job_id: str, phase: str, document: str) -> AgentCommand:
    return AgentCommand(job_id, 1, world.address, phase, "DEMO-1", phase, ["planner"], document, "{}")


@pytest.mark.asyncio(loop_scope="session")
async def test_the_activity_hands_on_a_typed_result_and_fails_a_malformed_one(
    temporal_env: WorkflowEnvironment, writes_prompt: AgentWorld, sqlite_url: str
) -> None:
    client = temporal_env.client
    good = json.dumps({"summary": "planned", "result": fixture("PLAN")})
    bad = json.dumps({"summary": "planned", "result": {"version": 1, "plan": {"steps": [{"what": 5}]}}})
    text_only = json.dumps({"summary": "explored", "outputs": {"findings": "words"}})
    async with dispatching(client, writes_prompt, sqlite_url) as (task_queue, _):
        typed = await (
            await start(client, task_queue, DispatchInput(command(writes_prompt, "t-1", "PLAN", good)))
        ).result()
        malformed = await (
            await start(client, task_queue, DispatchInput(command(writes_prompt, "t-2", "PLAN", bad)))
        ).result()
        untyped = await (
            await start(client, task_queue, DispatchInput(command(writes_prompt, "t-3", "EXPLORE", text_only)))
        ).result()
    assert typed.success and typed.result == from_document("PLAN", fixture("PLAN"))
    assert not malformed.success and malformed.error_kind == "INVALID_RESULT"
    assert malformed.error is not None and "$.plan.steps[0].what: 5 is not of type 'string'" in malformed.error
    assert untyped.success and untyped.result is None and untyped.outputs["findings"] == "words"


def test_commands_are_shown_where_the_schema_is() -> None:
    assert json.loads(RESULT_SCHEMA.read_text()) == schema()  # the file a command is pointed at is the one we check
