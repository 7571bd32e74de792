"""SIGTERM drains the agent: no new jobs (UNAVAILABLE, so the caller goes elsewhere), running ones finish within
AGENT_SHUTDOWN_GRACE, and only then does the agent stop (a real `orchestrator agent` process)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from app.agent_client.proto import agent_pb2 as pb
from tests.agent.conftest import AgentProcess, AgentWorld, pid_gone, request, wait_for, world_settings
from tests.conftest import free_port


class Follower:
    """Follows one job's stream on a thread: its events, and the error that ended it (if any)."""

    def __init__(self, world: AgentWorld, job_id: str, issue_key: str) -> None:
        self.events: list[pb.ExecuteEvent] = []
        self.error: grpc.RpcError | None = None
        self.thread = threading.Thread(target=self._follow, args=(world, job_id, issue_key), daemon=True)
        self.thread.start()

    def _follow(self, world: AgentWorld, job_id: str, issue_key: str) -> None:
        with world.client() as client:
            try:
                self.events.extend(client.execute(request(job_id, "CODE", issue_key), timeout=60))
            except grpc.RpcError as err:
                self.error = err

    def result(self) -> pb.Result | None:
        self.thread.join(timeout=60)
        results = [event.result for event in self.events if event.HasField("result")]
        return results[-1] if results else None


def not_serving(world: AgentWorld) -> bool:
    """The agent's health says NOT_SERVING (it has started to drain)."""
    with grpc.insecure_channel(world.address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.NOT_SERVING)


def draining_agent(tmp_path: Path, grace: str) -> tuple[AgentWorld, AgentProcess, Follower]:
    """A real agent process running one job (held until released), just sent SIGTERM and draining."""
    world = world_settings(tmp_path, free_port())
    agent = AgentProcess(world, tmp_path, AGENT_SHUTDOWN_GRACE=grace)
    agent.start()
    try:
        running = Follower(world, "job-1", "DEMO-1")
        wait_for(lambda: world.count("starts") == 1, what="the job to start")
        assert agent.proc is not None
        agent.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: not_serving(world), what="the agent to start draining")
    except BaseException:
        world.release()
        agent.stop()
        print(f"--- the agent's log ---\n{agent.log()}")
        raise
    return world, agent, running


def test_sigterm_refuses_new_jobs_and_lets_the_running_one_finish(tmp_path: Path) -> None:
    world, agent, running = draining_agent(tmp_path, "10m")
    assert agent.proc is not None
    try:
        with world.client() as client, pytest.raises(grpc.RpcError) as refused:
            list(client.execute(request("job-2", "CODE", "DEMO-2"), timeout=10))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "agent shutting down" in (refused.value.details() or "")
        assert agent.proc.poll() is None and world.count("done") == 0  # the job still runs, the agent waits
        world.release()
        result = running.result()
        assert result is not None and result.success, running.error
        assert world.count("done") == 1 and world.count("starts") == 1  # job-2 never started
        assert agent.proc.wait(timeout=30) == 0
    finally:
        world.release()
        agent.stop()


def test_a_job_still_running_after_the_grace_period_is_stopped(tmp_path: Path) -> None:
    world, agent, running = draining_agent(tmp_path, "1s")
    assert agent.proc is not None
    try:
        assert agent.proc.wait(timeout=30) == 0
        assert running.result() is None  # interrupted, no result: the caller's retry runs it again elsewhere
        assert all(pid_gone(pid) for pid in world.pids()) and world.count("done") == 0
    finally:
        world.release()
        agent.stop()
