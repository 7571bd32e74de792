"""A command that prints without end is capped: the job keeps a bounded log and journal, says once that it cut the
output, and still ends with a result carrying the command's last lines (issue 13, finding 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.agent_client.proto import agent_pb2 as pb
from app.agent_server.jobs import MAX_LINE
from app.agent_server.server import AgentServer
from tests.agent.conftest import AgentWorld, collect, request, world_settings
from tests.conftest import free_port

# 20,000 numbered lines, one of them 10,000 characters long, then the last line the result must still show.
FLOOD = """
name = "flood"
[defaults]
stdin = "none"
timeout = "1m"
[commands.TEST]
run = ["{python}", "-c", "import sys; [print('line %d' % n + 'x' * 10000 * (n == 3)) for n in range(20000)]; \
print('the end'); sys.exit(1)"]
output = "test_report"
failure = "TESTS_FAILED"
"""


@pytest.fixture
def flooding(tmp_path: Path) -> Iterator[AgentWorld]:
    profile = tmp_path / "flood.toml"
    profile.write_text(FLOOD)
    world = world_settings(tmp_path, free_port(), profile=str(profile), AGENT_MAX_OUTPUT_LINES="1000")
    server = AgentServer(world.settings)
    server.start()
    yield world
    server.stop(grace=1)


def test_output_past_the_cap_is_dropped_said_once_and_the_result_keeps_the_tail(flooding: AgentWorld) -> None:
    with flooding.client() as client:
        events, result = collect(client.execute(request("flood-1", "TEST"), timeout=60))
    lines = [e.log.message for e in events if e.HasField("log")]
    output = [line for line in lines if line.startswith("line ")]
    assert len(output) == 1000 and output[-1] == "line 999"
    assert sum(line.startswith("output truncated") for line in lines) == 1
    assert max(len(line) for line in lines) <= MAX_LINE + 40  # a 10,000-character line is cut too
    assert not result.success and result.error_kind == pb.ERROR_KIND_TESTS_FAILED
    assert result.outputs["test_report"].endswith("the end")  # the last lines reach the result
    journal = sum(p.stat().st_size for p in flooding.settings.agents.workspace_dir.rglob("events.jsonl"))
    assert journal < 400_000, journal  # 1,000 lines kept, not 20,000
