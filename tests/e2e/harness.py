"""The e2e harness: the Procfile's processes (sandbox Jira, web, worker, agents) as real subprocesses."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config import SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN
from tests.conftest import free_port

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")


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
