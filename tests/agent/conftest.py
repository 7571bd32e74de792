"""Agent test fixtures: a real agent server on loopback (in-process or as a process), a test profile, helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from app.agent_client.auth import agent_token
from app.agent_client.client import AgentClient
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import COMMANDS
from app.agent_server.server import AgentServer
from app.config import Settings
from tests.conftest import free_port, make_settings

WORK = Path(__file__).parent / "work.py"
ECHO_ENV = Path(__file__).parent / "echo_env.py"
TOKEN = "agent-token-for-tests-7f3a"


def profile_text(control: Path) -> str:
    """A profile whose commands are small, observable test programs (see work.py)."""
    work = f'["{{python}}", "{WORK}", "{control}"'
    return f"""
name = "test"
[defaults]
stdin = "none"
timeout = "2m"

[commands.CODE]
run = {work}]

[commands.runVerification]
run = {work}]
timeout = "1s"

[commands.FIX]
run = {work}, "fail-first"]

[commands.TEST]
run = ["{{python}}", "-c", "print('test_greeting ... FAIL'); print('FAILED (failures=1)'); raise SystemExit(1)"]
output = "test_report"
failure = "TESTS_FAILED"

[commands.PLAN]
run = ["{{python}}", "-c", "print('the tool broke'); raise SystemExit(3)"]

[commands.DOCUMENT]
run = ["{{python}}", "-c", "import sys; print('prompt: ' + sys.stdin.readline().strip())"]
stdin = "prompt"

[commands.EXPLORE]
run = ["{{python}}", "{ECHO_ENV}"]
"""


@dataclass
class AgentWorld:
    """One agent's settings and the folder its test commands report to."""

    settings: Settings
    control: Path
    address: str

    def count(self, name: str) -> int:
        """Lines in a control file (starts, done, pids)."""
        path = self.control / name
        return len(path.read_text().splitlines()) if path.exists() else 0

    def pids(self) -> list[int]:
        """Host pids of the test commands (work.py) running now, found by their control folder: a command confined
        to its own PID namespace (app/agent_server/confinement.py) knows only its pid in there."""
        alive = []
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            args = cmdline.decode(errors="replace").split("\0")
            if args[1:3] == [str(WORK), str(self.control)]:  # python work.py CONTROL, not a wrapper naming it
                alive.append(int(proc.name))
        return alive

    def release(self) -> None:
        """Let running work.py commands finish."""
        (self.control / "release").touch()

    def client(self, token: str | None = TOKEN) -> AgentClient:
        """A client with the shared token (or another one)."""
        return AgentClient(self.address, self.settings.agents, token if token is not None else "")


def world_settings(tmp_path: Path, port: int, profile: str = "test", **env: str) -> AgentWorld:
    """Settings for an agent under `tmp_path` on `port`."""
    control = tmp_path / "control"
    control.mkdir(parents=True, exist_ok=True)
    if profile == "test":
        path = tmp_path / "test-profile.toml"
        path.write_text(profile_text(control))
        profile = str(path)
    base = {
        "AGENT_LISTEN": f"127.0.0.1:{port}",
        "AGENT_ADDRESSES": f"127.0.0.1:{port}",
        "AGENT_PROFILE": profile,
        "AGENT_TOKEN": TOKEN,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
    }
    base.update(env)
    return AgentWorld(make_settings(tmp_path, **base), control, f"127.0.0.1:{port}")


@pytest.fixture
def agent_world(tmp_path: Path) -> Iterator[AgentWorld]:
    """A running in-process agent with the test profile."""
    world = world_settings(tmp_path, free_port())
    server = AgentServer(world.settings)
    server.start()
    yield world
    world.release()
    server.stop(grace=1)


def request(job_id: str, command: str, issue_key: str = "DEMO-1", **fields: object) -> pb.ExecuteRequest:
    """An ExecuteRequest for a command name."""
    return pb.ExecuteRequest(job_id=job_id, attempt=1, command=COMMANDS[command], issue_key=issue_key, **fields)  # type: ignore[arg-type]


def collect(events: Iterator[pb.ExecuteEvent]) -> tuple[list[pb.ExecuteEvent], pb.Result]:
    """Every event of a stream, and its result."""
    seen = list(events)
    results = [e.result for e in seen if e.HasField("result")]
    assert len(results) == 1, f"expected exactly one result, got {len(results)}"
    assert seen[-1].HasField("result")
    return seen, results[0]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `condition` until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def pid_gone(pid: int) -> bool:
    """True when no process has this pid (or it is a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


class AgentProcess:
    """`orchestrator agent` as a real process, for kill -9 and restart."""

    def __init__(self, world: AgentWorld, tmp_path: Path, **env: str) -> None:
        self.world = world
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "TEMPORAL_", "JIRA_"))},
            "ORCHESTRATOR_VAR_DIR": str(world.settings.var_dir),
            "AGENT_LISTEN": world.settings.agents.listen,
            "AGENT_PROFILE": world.settings.agents.profile,
            "AGENT_TOKEN": agent_token(world.settings),
            "AGENT_REPO": str(world.settings.agents.repo),
            "AGENT_REMOTE": world.settings.agents.remote,
            "AGENT_WORKSPACE_DIR": str(world.settings.agents.workspace_dir),
            **env,
        }
        self.cwd = tmp_path
        self.log_path = tmp_path / "agent-process.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the agent and wait until its health service says SERVING."""
        orchestrator = str(Path(sys.executable).parent / "orchestrator")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([orchestrator, "agent"], cwd=self.cwd, env=self.env, stdout=log, stderr=log)
        wait_for(self._serving, timeout=30, what="the agent process to serve")

    def log(self) -> str:
        """What the agent process printed (every start of it)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _serving(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"the agent process exited with {self.proc.returncode}")
        with grpc.insecure_channel(self.world.address) as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
