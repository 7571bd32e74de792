"""The agent protocol over real gRPC on loopback: streaming, cancel, re-attach, authentication."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from app.agent_client.proto import agent_pb2 as pb
from app.agent_server.server import AgentServer
from tests.agent.conftest import AgentWorld, collect, pid_gone, request, wait_for, world_settings
from tests.conftest import free_port


def test_command_streams_logs_then_one_result(agent_world: AgentWorld) -> None:
    with agent_world.client() as client:
        events, result = collect(client.execute(request("j-test-1", "TEST"), timeout=30))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    lines = [e.log.message for e in events if e.HasField("log")]
    assert "test_greeting ... FAIL" in lines
    assert "FAILED (failures=1)" in lines
    assert any(e.HasField("progress") for e in events)
    assert not result.success
    assert result.error_kind == pb.ERROR_KIND_TESTS_FAILED
    assert "FAILED (failures=1)" in result.outputs["test_report"]
    assert result.error_message == "TEST exited with code 1: FAILED (failures=1)"


def test_prompt_reaches_the_command_on_stdin(agent_world: AgentWorld) -> None:
    with agent_world.client() as client:
        _, result = collect(client.execute(request("j-doc-1", "DOCUMENT", prompt="Write the changelog"), timeout=30))
    assert result.success, result.error_message
    assert result.summary == "prompt: Write the changelog"


def test_cancel_kills_the_running_process(agent_world: AgentWorld) -> None:
    with agent_world.client() as client:
        stream = client.execute(request("j-cancel-1", "CODE"), timeout=60)
        first = next(iter(stream))
        assert first.seq == 1
        wait_for(lambda: agent_world.count("pids") == 1, what="the command to start")
        [pid] = agent_world.pids()
        answer = client.cancel("j-cancel-1", "test")
        assert answer.state == pb.JOB_STATE_CANCELLED
        assert pid_gone(pid), "the command's process is still alive after Cancel"
        rest = list(stream)
        assert rest[-1].result.error_kind == pb.ERROR_KIND_CANCELLED
        assert client.cancel("no-such-job", "test").state == pb.JOB_STATE_NOT_FOUND
    assert agent_world.count("done") == 0


def test_second_execute_reattaches_and_the_work_runs_once(agent_world: AgentWorld) -> None:
    streams: dict[str, list[pb.ExecuteEvent]] = {}

    def follow(name: str, after_seq: int) -> None:
        with agent_world.client() as client:
            streams[name] = list(client.execute(request("j-once-1", "CODE", after_seq=after_seq), timeout=60))

    first = threading.Thread(target=follow, args=("first", 0))
    first.start()
    wait_for(lambda: agent_world.count("starts") == 1, what="the work to start")
    second = threading.Thread(target=follow, args=("second", 0))
    second.start()
    with agent_world.client() as client:
        wait_for(lambda: "j-once-1" in client.ping("p").running_jobs, what="the job to be listed as running")
    agent_world.release()
    first.join(30)
    second.join(30)
    assert agent_world.count("starts") == 1
    assert agent_world.count("done") == 1
    assert [e.seq for e in streams["first"]] == [e.seq for e in streams["second"]]
    assert streams["first"][-1].result.success
    # After the end, a re-attach from a cursor replays only what follows it, and still runs nothing.
    with agent_world.client() as client:
        tail = list(client.execute(request("j-once-1", "CODE", after_seq=streams["first"][-3].seq), timeout=30))
    assert [e.seq for e in tail] == [e.seq for e in streams["first"][-2:]]
    # A cursor past the end still gets the result: every stream ends with exactly one.
    with agent_world.client() as client:
        beyond = list(client.execute(request("j-once-1", "CODE", after_seq=tail[-1].seq + 5), timeout=30))
    assert [e.seq for e in beyond] == [tail[-1].seq] and beyond[0].result.success
    assert agent_world.count("starts") == 1


def test_one_job_at_a_time_per_workspace(agent_world: AgentWorld) -> None:
    results: dict[str, list[pb.ExecuteEvent]] = {}

    def run(job_id: str, issue_key: str) -> None:
        with agent_world.client() as client:
            results[job_id] = list(client.execute(request(job_id, "CODE", issue_key=issue_key), timeout=60))

    threads = [threading.Thread(target=run, args=("j-ws-1", "DEMO-1"))]
    threads[0].start()
    wait_for(lambda: agent_world.count("starts") == 1, what="the first job to start")
    threads += [threading.Thread(target=run, args=args) for args in (("j-ws-2", "DEMO-1"), ("j-ws-3", "DEMO-2"))]
    for thread in threads[1:]:
        thread.start()
    # Another issue's workspace is free: its job starts; the second job of DEMO-1 waits for the first.
    wait_for(lambda: agent_world.count("starts") == 2, what="the other issue's job to start")
    with agent_world.client() as client:
        assert sorted(client.ping("p").running_jobs) == ["j-ws-1", "j-ws-2", "j-ws-3"]
    assert agent_world.count("starts") == 2
    agent_world.release()
    for thread in threads:
        thread.join(30)
    assert agent_world.count("done") == 3
    waited = [e.log.message for e in results["j-ws-2"] if e.HasField("log")]
    assert "waiting for the workspace of DEMO-1 (another job is using it)" in waited
    assert all(events[-1].result.success for events in results.values())


def test_a_command_that_runs_too_long_is_killed(agent_world: AgentWorld) -> None:
    with agent_world.client() as client:
        _, result = collect(client.execute(request("j-slow-1", "runVerification"), timeout=30))
    assert result.error_kind == pb.ERROR_KIND_TIMEOUT
    assert result.error_message == "runVerification ran longer than 0:00:01 and was stopped"
    assert all(pid_gone(pid) for pid in agent_world.pids())
    assert agent_world.count("done") == 0


def test_a_job_id_cannot_be_reused_for_other_work(agent_world: AgentWorld) -> None:
    with agent_world.client() as client:
        collect(client.execute(request("j-reuse-1", "TEST"), timeout=30))
        with pytest.raises(grpc.RpcError) as refused:
            list(client.execute(request("j-reuse-1", "DOCUMENT"), timeout=30))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"job_id": "", "issue_key": "DEMO-1"}, "job_id"),
        ({"job_id": "j 1", "issue_key": "DEMO-1"}, "job_id"),
        ({"job_id": "j-1", "issue_key": "../etc"}, "issue_key"),
        ({"job_id": "j-1", "issue_key": "DEMO-1", "context": "[1, 2]"}, "context"),
    ],
)
def test_malformed_requests_are_refused(agent_world: AgentWorld, fields: dict[str, str], problem: str) -> None:
    with agent_world.client() as client, pytest.raises(grpc.RpcError) as refused:
        list(client.execute(pb.ExecuteRequest(command=pb.COMMAND_TEST, **fields), timeout=10))  # type: ignore[arg-type]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in (refused.value.details() or "")


@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_calls_without_the_token_are_refused(agent_world: AgentWorld, token: str) -> None:
    with agent_world.client(token=token) as client:
        for call in (
            lambda: list(client.execute(request("j-auth-1", "CODE"), timeout=10)),
            lambda: client.cancel("j-auth-1", "x"),
            lambda: client.ping("p"),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert agent_world.count("starts") == 0


def test_health_is_open_and_ping_says_who(agent_world: AgentWorld) -> None:
    with grpc.insecure_channel(agent_world.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "orchestrator.agent.v1.AgentService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
    with agent_world.client() as client:
        pong = client.ping("nonce-1")
    assert (pong.nonce, pong.agent_id, pong.protocol, pong.profile) == (
        "nonce-1",
        "local-agent",
        "orchestrator.agent.v1",
        "test",
    )


def test_a_second_agent_on_the_same_port_or_workspaces_refuses_to_start(
    agent_world: AgentWorld, tmp_path: Path
) -> None:
    with pytest.raises(OSError, match="another agent is using"):
        AgentServer(agent_world.settings)
    port = int(agent_world.address.rsplit(":", 1)[1])
    with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1"):
        AgentServer(world_settings(tmp_path / "other", port).settings)
    with agent_world.client() as client:  # the first agent is untouched
        assert client.ping("still-there").nonce == "still-there"


def test_a_restarted_agent_replays_finished_jobs_from_its_journal(tmp_path: Path) -> None:
    world = world_settings(tmp_path, free_port())
    world.release()
    server = AgentServer(world.settings)
    server.start()
    with world.client() as client:
        before, _ = collect(client.execute(request("j-journal-1", "CODE"), timeout=30))
    server.stop(grace=1)
    server = AgentServer(world.settings)
    server.start()
    try:
        with world.client() as client:
            after, result = collect(client.execute(request("j-journal-1", "CODE"), timeout=30))
    finally:
        server.stop(grace=1)
    assert after == before and result.success
    assert world.count("starts") == 1
