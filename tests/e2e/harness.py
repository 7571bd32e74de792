"""The e2e harness: the Procfile's processes (sandbox Jira, web, worker, agents) as real subprocesses."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.duration_pb2 import Duration
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, DeleteNamespaceRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from app.agent_server.profiles import SHIPPED
from app.cli.stack import sandbox_forge_env
from app.config import SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN, Settings
from app.store.db import make_engine
from tests.conftest import free_port
from workflows import search
from workflows.queue_types import RECONCILE_ID, RECOVERY_ID, REVIVAL_ID, agent_schedule_ids
from workflows.retention import RETENTION_ID

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")


class Stack:
    """The Procfile's processes (less Temporal, which the session's dev server provides)."""

    def __init__(self, tmp_path: Path, temporal_address: str, agents: int = 1, database_url: str | None = None) -> None:
        self.dir = tmp_path
        self.jira_url = f"http://127.0.0.1:{free_port()}"
        web_port = free_port()
        # Each agent's address is also its id in the database (and in its schedules' ids).
        self.agent_addresses = tuple(f"127.0.0.1:{free_port()}" for _ in range(agents))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "JIRA_", "AGENT_", "FORGE"))}
        self.env.update(
            ORCHESTRATOR_VAR_DIR=str(tmp_path / "var"),
            DATABASE_URL=database_url or f"sqlite:///{tmp_path / 'app.db'}",
            TEMPORAL_ADDRESS=temporal_address,
            TEMPORAL_TASK_QUEUE=f"e2e-{tmp_path.name}",
            WEB_PORT=str(web_port),
            WEB_WORKERS="1",
            SANDBOX_JIRA_PORT=self.jira_url.rsplit(":", 1)[1],
            SANDBOX_WEBHOOK_URL=f"http://127.0.0.1:{web_port}/webhooks/jira",
            JIRA_WEBHOOK_SECRET="e2e-webhook-secret",
            AGENT_LISTEN=self.agent_addresses[0],
            AGENT_ADDRESSES=",".join(self.agent_addresses),
            WORKER_SHUTDOWN_GRACE="2s",
            AGENT_SHUTDOWN_GRACE="2s",  # a SIGTERMed agent drains a running job this long (tear-down stays quick)
            # A SIGKILLed worker never says its activity died: the heartbeat timeout is how Temporal learns.
            AGENT_HEARTBEAT_TIMEOUT="10s",
        )
        # As `make run` does: pull requests on the sandbox forge, through the production GitHub provider.
        self.env.update(sandbox_forge_env(Settings.from_env(self.env, env_file=None)))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        subprocess.run([ORCHESTRATOR, "migrate"], env=self.env, cwd=tmp_path, check=True, capture_output=True)

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> None:
        """Start `orchestrator ARGS` as process `name` (log `<name>.log`, appended to on a restart)."""
        with (self.dir / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            self.procs[name] = subprocess.Popen(
                [ORCHESTRATOR, *args], env={**self.env, **(env or {})}, cwd=self.dir, stdout=log, stderr=log
            )

    def start_agent(self, index: int) -> str:
        """Start agent `index` as process `agent-<index>` on its address with its own workspaces; returns the name.

        The agents share the demo repository (AGENT_REPO), as agents sharing one remote would: an issue's branch is
        there whichever agent takes its next job. Starting it again after a kill is a restart where it was.
        """
        name = f"agent-{index}"
        overrides = {
            "AGENT_LISTEN": self.agent_addresses[index],
            "AGENT_ID": name,
            "AGENT_WORKSPACE_DIR": str(self.agent_workspaces(index)),
        }
        self.start(name, "agent", env=overrides)
        return name

    def agent_workspaces(self, index: int) -> Path:
        """Agent `index`'s AGENT_WORKSPACE_DIR (its worktrees, and its job journals under `.jobs`)."""
        return self.dir / "var" / "agent" / f"workspaces-{index}"

    def schedule_ids(self) -> list[str]:
        """Every schedule the worker sets up for this stack: the global ones and each agent's two."""
        per_agent = [sid for address in self.agent_addresses for sid in agent_schedule_ids(address)]
        return [REVIVAL_ID, RECOVERY_ID, RECONCILE_ID, RETENTION_ID, *per_agent]

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

    def forge_posts(self) -> list[dict[str, Any]]:
        """Every POST of a pull request the sandbox forge received."""
        with urllib.request.urlopen(f"{self.jira_url}/forge/_admin/posts", timeout=10) as response:  # noqa: S310
            posts: list[dict[str, Any]] = json.loads(response.read())
        return posts

    def page(self, url: str) -> str:
        """A page of the sandbox (a pull request's, say)."""
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the loopback sandbox
            return str(response.read().decode())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-12000:]}" for p in self.dir.glob("*.log"))


def listening(address: str) -> bool:
    """True once something accepts TCP connections at `host:port`."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


async def own_namespace(env: WorkflowEnvironment) -> Client:
    """A new namespace on the session's dev server, with the orchestration's search attributes, and its client.

    Workflow ids (`orchestration-DEMO-1`) and the global schedule ids are fixed, so a stack in `default` could
    meet what an earlier test of the session left there; in a namespace of its own it meets nothing.
    """
    namespace = f"e2e-{uuid.uuid4().hex[:10]}"
    await env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400))
    )
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=namespace, search_attributes={a.name: keyword for a in search.ALL})
    )
    return await Client.connect(env.client.service_client.config.target_host, namespace=namespace)


async def clear_namespace(client: Client, schedule_ids: list[str]) -> None:
    """Delete the namespace's schedules (those named, and any other) and end its open runs; the namespace stays.

    Deleting a namespace deletes every execution in it: after a few hundred (a ten-issue run) the dev server's
    persistence is saturated for seconds ("System Persistence Max QPS Reached"), slowing the tests that follow.
    """
    ids = set(schedule_ids) | {s.id async for s in await client.list_schedules()}
    for schedule_id in sorted(ids):
        with contextlib.suppress(RPCError):  # never created (a process failed early) or already gone
            await client.get_schedule_handle(schedule_id).delete()
    async for run in client.list_workflows('ExecutionStatus = "Running"'):
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(run.id, run_id=run.run_id).terminate("test over")


async def drop_namespace(env: WorkflowEnvironment, client: Client, schedule_ids: list[str]) -> None:
    """`clear_namespace`, then delete the namespace (for namespaces with few executions)."""
    await clear_namespace(client, schedule_ids)
    await env.client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=client.namespace))


async def exists(describe: Awaitable[object]) -> bool:
    """Whether a Temporal `describe()` call finds its workflow or schedule (NOT_FOUND: no; other errors raise)."""
    try:
        await describe
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def eventually(
    stack: Stack, check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 30.0
) -> None:
    """Wait until `check` (sync or async) holds; on timeout fail with `what` and the processes' logs."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):  # a process still starting
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{stack.logs()}")
        await asyncio.sleep(0.2)


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


@dataclass
class Site:
    """The running processes, a client of their Temporal namespace, and their database."""

    stack: Stack
    client: Client
    engine: Engine

    def db(self) -> Session:
        """A session on the processes' database."""
        return Session(self.engine)


async def open_site(
    env: WorkflowEnvironment, tmp_path: Path, agents: int, database_url: str | None = None, **settings: str
) -> Site:
    """A stack of `agents` agents in a namespace of its own, with `settings` for every process (nothing started).

    Runs go through their gates on their own unless `settings` say ORCHESTRATOR_AUTO_PROCEED=false.
    """
    client = await own_namespace(env)
    stack = Stack(tmp_path, env.client.service_client.config.target_host, agents=agents, database_url=database_url)
    stack.env.update({"TEMPORAL_NAMESPACE": client.namespace, "ORCHESTRATOR_AUTO_PROCEED": "true", **settings})
    return Site(stack, client, make_engine(stack.env["DATABASE_URL"]))


async def close_site(site: Site) -> None:
    """Stop the processes, then delete every schedule the worker made and end what still runs."""
    site.engine.dispose()
    try:
        site.stack.stop()
    finally:
        await clear_namespace(site.client, site.stack.schedule_ids())


async def start_processes(site: Site, agents: list[int]) -> None:
    """Sandbox, the agents (one after the other: the first creates the shared demo repository), web and worker;
    returns once the web listens and the worker has registered the agents and set up every schedule."""
    stack = site.stack
    stack.start("sandbox", "sandbox", "serve")
    for index in agents:
        stack.start_agent(index)
        await eventually(stack, lambda i=index: listening(stack.agent_addresses[i]), f"agent {index}")
    stack.start("web", "web")
    stack.start("worker", "worker")
    await eventually(stack, lambda: bool(stack.rest("myself")), "the sandbox")
    await eventually(stack, lambda: listening(f"127.0.0.1:{stack.env['WEB_PORT']}"), "the web process")

    async def schedules_set_up() -> bool:
        return all([await exists(site.client.get_schedule_handle(sid).describe()) for sid in stack.schedule_ids()])

    await eventually(stack, schedules_set_up, "the worker's start-up (agents and schedules)", 60)


# EXPLORE waits for this file before running the demo's explore step, so the test can stop the agent while the
# job's command is surely running (the demo's steps take a fraction of a second). Everything else is the demo.
DEMO_EXPLORE = 'run = ["{python}", "-m", "app.agent_server.demo", "explore", "{job_file}"]'
GATED_EXPLORE = (
    'run = ["sh", "-c", '
    '\'while [ ! -e "$0" ]; do sleep 0.1; done; exec "$1" -m app.agent_server.demo explore "$2"\', '
    '"{gate}", "{{python}}", "{{job_file}}"]'
)


def gated_demo_profile(folder: Path, gate: Path) -> Path:
    """The shipped demo profile, except that EXPLORE waits until `gate` exists."""
    demo = (SHIPPED / "demo.toml").read_text()
    assert demo.count(DEMO_EXPLORE) == 1, "the demo profile's EXPLORE changed; update this test's gate"
    path = folder / "gated-demo.toml"
    path.write_text(demo.replace(DEMO_EXPLORE, GATED_EXPLORE.format(gate=gate)))
    assert tomllib.loads(path.read_text())["commands"]["EXPLORE"]["run"][0] == "sh"
    return path
