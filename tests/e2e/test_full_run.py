"""The whole product as `make run` starts it: sandbox Jira, web (gunicorn), worker and demo agent as real processes.

Label → EXPLORE → /approve → PLAN → /approve → CODE → TEST fails → FIX → TEST passes → DOCUMENT → PR link →
Done; the worker is SIGKILLed in the middle of a phase and restarted, and the issue still ends with exactly one
status comment, one comment per gate, one summary and one remote link.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from app.config import SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN
from app.sandbox.people import SandboxPerson
from tests.conftest import free_port

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")
pytestmark = pytest.mark.e2e


class Stack:
    """The Procfile's processes (less Temporal, which the session's dev server provides)."""

    def __init__(self, tmp_path: Path, temporal_address: str) -> None:
        self.dir = tmp_path
        self.jira_url = f"http://127.0.0.1:{free_port()}"
        web_port, agent = free_port(), f"127.0.0.1:{free_port()}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "JIRA_", "AGENT_"))}
        self.env.update(
            ORCHESTRATOR_VAR_DIR=str(tmp_path / "var"),
            DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}",
            TEMPORAL_ADDRESS=temporal_address,
            TEMPORAL_TASK_QUEUE=f"e2e-{tmp_path.name}",
            WEB_PORT=str(web_port),
            WEB_WORKERS="1",
            SANDBOX_JIRA_PORT=self.jira_url.rsplit(":", 1)[1],
            SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{web_port}/webhooks/jira",
            JIRA_WEBHOOK_SECRET="e2e-webhook-secret",
            AGENT_LISTEN=agent,
            AGENT_ADDRESSES=agent,
            WORKER_SHUTDOWN_GRACE="2s",
            # A SIGKILLed worker never says its activity died: the heartbeat timeout is how Temporal learns.
            AGENT_HEARTBEAT_TIMEOUT="10s",
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        subprocess.run([ORCHESTRATOR, "migrate"], env=self.env, cwd=tmp_path, check=True, capture_output=True)

    def start(self, name: str, *args: str) -> None:
        with (self.dir / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            self.procs[name] = subprocess.Popen(
                [ORCHESTRATOR, *args], env=self.env, cwd=self.dir, stdout=log, stderr=log
            )

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def rest(self, path: str) -> Any:
        auth = base64.b64encode(f"{SANDBOX_BOT_EMAIL}:{SANDBOX_BOT_TOKEN}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - the loopback sandbox
            f"{self.jira_url}/rest/api/2/{path}", headers={"Authorization": f"Basic {auth}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback sandbox
            return json.loads(response.read())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.dir.glob("*.log"))


@pytest.fixture
def stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path, temporal_env.client.service_client.config.target_host)
    for name, args in (
        ("sandbox", ["sandbox", "serve"]),
        ("agent", ["agent"]),
        ("web", ["web"]),
        ("worker", ["worker"]),
    ):
        running.start(name, *args)
    yield running
    running.stop()


def wait(stack: Stack, condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except OSError:
            pass  # a process still starting
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{stack.logs()}")
        time.sleep(0.25)


def bot_comments(stack: Stack) -> list[str]:
    comments = stack.rest("issue/DEMO-1/comment?maxResults=100")["comments"]
    return [c["body"] for c in comments if c["author"]["accountId"] == "sandbox-bot"]


def test_label_to_done_with_a_worker_crash_in_between(stack: Stack) -> None:
    reviewer = SandboxPerson(stack.jira_url, "reviewer")
    wait(stack, lambda: bool(stack.rest("myself")), "the sandbox")
    reviewer.label("DEMO-1", "ai-orchestrate")
    gate = "Waiting for approval to proceed"
    wait(stack, lambda: sum(gate in c for c in bot_comments(stack)) == 1, "the EXPLORE gate")
    reviewer.comment("DEMO-1", "/approve start with the greeting module")
    wait(stack, lambda: sum(gate in c for c in bot_comments(stack)) == 2, "the PLAN gate")

    reviewer.comment("DEMO-1", "/approve")
    wait(stack, lambda: "|CODE|⏳|" in bot_comments(stack)[0], "CODE to start")
    stack.kill("worker")  # mid-phase: Temporal hands the work to the restarted worker
    stack.start("worker", "worker")

    wait(stack, lambda: stack.rest("issue/DEMO-1?fields=status")["fields"]["status"]["name"] == "Done", "Done", 180)
    # The outbox delivers in order but the status comment may trail the transition by one write.
    wait(stack, lambda: "*Status:* Completed" in bot_comments(stack)[0], "the final status comment")
    comments = bot_comments(stack)
    status = [c for c in comments if c.startswith("h3. 🤖 AI orchestration")]
    assert len(status) == 1, comments
    assert "Completed" in status[0]
    assert sum(gate in c for c in comments) == 2
    assert sum(c.startswith("🎉") for c in comments) == 1
    assert "|FIX|✅|1|" in status[0], status[0]  # the demo's CODE breaks the test; FIX repairs it
    links = stack.rest("issue/DEMO-1/remotelink")
    assert len(links) == 1
    assert links[0]["object"]["url"].endswith("#jira/DEMO-1")
    remote = links[0]["object"]["url"].split("#", 1)[0]
    branches = subprocess.run(["git", "branch", "--list", "jira/DEMO-1"], cwd=remote, capture_output=True, text=True)
    assert "jira/DEMO-1" in branches.stdout
