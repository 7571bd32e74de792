"""Issue 13 finding 4 (rest): a job's result is capped at the agent and again in the dispatch activity, so it always
fits in workflow history; an oversized request or answer is a non-retryable bad request, never retried."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.agent import AgentActivities
from activities.agent_types import AgentCommand, AgentOutcome
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.result_caps import (
    ERROR_CHARS,
    MAX_OUTCOME_BYTES,
    MAX_OUTPUTS,
    OUTPUT_CHARS,
    OUTPUTS_CHARS,
    RESULT_DROPPED,
    SUMMARY_CHARS,
    TRUNCATED,
    cap_result,
    cut_middle,
)
from app.agent_server.server import AgentServer
from app.store.db import make_engine, make_session_factory
from tests.agent.conftest import TOKEN, AgentWorld, collect, request, world_settings
from tests.agent.dispatch_workflow import DispatchInput, DispatchWorkflow
from tests.agent.test_dispatch_activity import dispatching
from tests.conftest import free_port
from workflows.job_types import ErrorKind

# What the profile's commands write to their result file: far more than Temporal (2 MB) or gRPC (4 MB) carry.
BIG = """
import json, os, sys
mode = sys.argv[1]
if mode == "huge":  # a 3 MB summary and 30 outputs of 200k characters, no typed result
    result = {"summary": "s" * 3_000_000, "outputs": {f"out{n:02}": "head" + "x" * 200_000 + "tail" for n in range(30)}}
elif mode == "doc":  # a typed result document of about 5 MB
    result = {"summary": "done", "result": {"version": 1, "plan": {"steps": [{"what": "w" * 4000}] * 1300}}}
else:  # every part within its cap, in characters JSON escapes to 6 or 12 bytes each: too much all together
    print(("\\U0001F600" * 1000 + "\\n") * 20, end="")
    failures = [{"name": "\\u00e9" * 1000} for _ in range(43)]
    result = {
        "summary": "\\U0001F600" * 3000,
        "outputs": {f"out{n:02}": "\\U0001F600" * 16_000 for n in range(16)},
        "result": {"version": 1, "test": {"passed": 0, "failed": 43, "failures": failures}},
    }
with open(os.environ["AGENT_RESULT_FILE"], "w") as handle:
    json.dump(result, handle)
"""


def big_profile(script: Path) -> str:
    """CODE, PLAN and TEST write an oversized result each (see BIG)."""
    commands = "".join(
        f'[commands.{name}]\nrun = ["{{python}}", "{script}", "{mode}"]\n\n'
        for name, mode in (("CODE", "huge"), ("PLAN", "doc"), ("TEST", "emoji"))
    )
    return f'name = "big"\n[defaults]\nstdin = "none"\ntimeout = "2m"\n\n{commands}'


@pytest.fixture
def big_agent(tmp_path: Path) -> Iterator[AgentWorld]:
    """A running agent whose commands write oversized results."""
    script = tmp_path / "big.py"
    script.write_text(BIG)
    profile = tmp_path / "big.toml"
    profile.write_text(big_profile(script))
    world = world_settings(tmp_path, free_port(), profile=str(profile))
    server = AgentServer(world.settings)
    server.start()
    yield world
    server.stop(grace=1)


def run(world: AgentWorld, name: str, context: str = "{}") -> AgentCommand:
    return AgentCommand(f"caps-{uuid.uuid4().hex[:8]}", 1, world.address, name, "DEMO-1", name, [], "go", context)


async def outcomes(env: WorkflowEnvironment, world: AgentWorld, database_url: str, *names: str) -> list[AgentOutcome]:
    """Each command's outcome, dispatched by the real activity in a worker (the way the job workflow does)."""
    found: list[AgentOutcome] = []
    async with dispatching(env.client, world, database_url) as (task_queue, _):
        for name in names:
            handle = await env.client.start_workflow(
                DispatchWorkflow.run, DispatchInput(run(world, name)), id=f"caps-{uuid.uuid4()}", task_queue=task_queue
            )
            # Uncapped, the activity cannot complete (its result is over Temporal's payload limit).
            async with asyncio.timeout(90):
                found.append(await handle.result())
    return found


def encoded(outcome: AgentOutcome) -> int:
    return len(DataConverter.default.payload_converter.to_payloads([outcome])[0].data)


def test_a_small_result_passes_untouched_and_a_huge_one_is_cut_saying_so() -> None:
    small = pb.Result(success=True, summary="ok", outputs={"report": "fine"}, result='{"version": 1}')
    assert cap_result(small) is small
    huge = pb.Result(
        success=False,
        summary="s" * 1_000_000,
        outputs={f"o{n:03}": "h" + "x" * 100_000 + "t" for n in range(40)} | {"n" * 5000: "long name"},
        error_kind=pb.ERROR_KIND_TESTS_FAILED,
        error_message="e" * 1_000_000,
        result="{" + " " * 1_000_000 + "}",
    )
    capped = cap_result(huge)
    assert len(capped.summary) <= SUMMARY_CHARS and len(capped.error_message) <= ERROR_CHARS
    kept = {name: text for name, text in capped.outputs.items() if name not in (TRUNCATED, RESULT_DROPPED)}
    assert sorted(kept) == [f"o{n:03}" for n in range(MAX_OUTPUTS)]
    assert all(len(text) <= OUTPUT_CHARS and text[0] == "h" and text[-1] == "t" for text in kept.values())
    assert sum(map(len, kept.values())) <= OUTPUTS_CHARS
    mixed = cap_result(pb.Result(outputs={"short": "s" * 100, "long": "l" * 100_000, "mid": "m" * 30_000}))
    assert mixed.outputs["short"] == "s" * 100 and len(mixed.outputs["long"]) == OUTPUT_CHARS  # shares go on
    assert capped.result == "" and "1000002 characters" in capped.outputs[RESULT_DROPPED]
    note = capped.outputs[TRUNCATED]
    assert "the summary" in note and "25 outputs past the first 16" in note and "the typed result document" in note
    assert (capped.success, capped.error_kind) == (False, pb.ERROR_KIND_TESTS_FAILED)
    assert capped.ByteSize() < 400_000
    assert cap_result(capped) is capped  # the activity's second pass changes nothing the agent already cut
    assert cut_middle("abcdefghij" * 100, 10_000) == ("abcdefghij" * 100, False)


def test_the_agent_sends_its_result_already_cut(big_agent: AgentWorld) -> None:
    with big_agent.client() as client:
        _, result = collect(client.execute(request("caps-agent", "CODE")))
    assert result.success and len(result.summary) <= SUMMARY_CHARS and result.ByteSize() < 400_000
    assert "the summary (3000000 characters)" in result.outputs[TRUNCATED]


async def test_an_oversized_result_reaches_the_workflow_cut_and_saying_so(
    temporal_env: WorkflowEnvironment, big_agent: AgentWorld, sqlite_url: str
) -> None:
    [outcome] = await outcomes(temporal_env, big_agent, sqlite_url, "CODE")
    assert outcome.success and len(outcome.summary) <= SUMMARY_CHARS
    assert "the summary (3000000 characters)" in outcome.outputs[TRUNCATED]
    assert "14 outputs past the first 16" in outcome.outputs[TRUNCATED]
    assert outcome.outputs["out00"].startswith("head") and outcome.outputs["out00"].endswith("tail")
    assert encoded(outcome) < MAX_OUTCOME_BYTES


async def test_an_oversized_typed_result_is_a_visible_invalid_result(
    temporal_env: WorkflowEnvironment, big_agent: AgentWorld, sqlite_url: str
) -> None:
    document, encoded_big = await outcomes(temporal_env, big_agent, sqlite_url, "PLAN", "TEST")
    assert (document.success, document.error_kind, document.result) == (False, ErrorKind.INVALID_RESULT, None)
    assert "at most 262144 are kept" in (document.error or "")
    assert (encoded_big.success, encoded_big.error_kind) == (False, ErrorKind.INVALID_RESULT)
    assert "bytes once encoded" in (encoded_big.error or "") and encoded_big.outputs == {}
    assert encoded(encoded_big) < MAX_OUTCOME_BYTES


def follow(world: AgentWorld, database_url: str, command: AgentCommand) -> ApplicationError:
    """Run the dispatch activity once, as a worker would, and return what it raised."""
    engine = make_engine(database_url)
    activities = AgentActivities(world.settings.agents, TOKEN, make_session_factory(engine))
    try:
        with pytest.raises(ApplicationError) as raised:
            ActivityEnvironment().run(activities.execute_agent_job, command)
    finally:
        engine.dispose()
    return raised.value


def test_a_request_over_grpcs_limit_is_a_bad_request_not_a_retry(big_agent: AgentWorld, sqlite_url: str) -> None:
    # Temporal's own limits keep such a context out of history; an agent's 4 MiB limit is still the one that bites.
    command = run(big_agent, "CODE", context='{"issue": "' + "c" * 4_200_000 + '"}')
    error = follow(big_agent, sqlite_url, command)
    assert error.type == "ValidationError" and error.non_retryable
    assert "an agent accepts at most" in error.message and "context 4200013 characters" in error.message


def test_an_answer_over_grpcs_limit_is_a_bad_request_not_a_retry(
    big_agent: AgentWorld, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past our own check (an agent with a smaller limit, or a reply over ours): gRPC's refusal is final too.
    monkeypatch.setattr("activities.agent.MAX_REQUEST_BYTES", 8 * 1024 * 1024)
    command = run(big_agent, "CODE", context='{"issue": "' + "c" * 4_200_000 + '"}')
    error = follow(big_agent, sqlite_url, command)
    assert error.type == "ValidationError" and error.non_retryable
    assert "over gRPC's size limit" in error.message and "larger than max" in error.message


def test_secrets_are_masked_before_anything_is_cut() -> None:
    secret = "tok_" + "Z" * 60
    text = "a" * 1960 + secret + "b" * 5000
    plain = cap_result(pb.Result(summary=text, outputs={"report": "c" * 20_000 + secret + "d" * 20_000}))
    assert secret[:8] in plain.summary  # the cut falls inside the secret
    capped = cap_result(pb.Result(summary=text, outputs={"report": "c" * 20_000 + secret + "d" * 20_000}), [secret])
    assert "ZZZ" not in capped.summary and "ZZZ" not in capped.outputs["report"]
    assert "***" in capped.summary
