"""A scripted agent for the job system tests: records which agent ran which command when, and can be "stopped"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.agent_types import AgentCommand, AgentOutcome, CredentialRefs, CredentialsRequest
from tests.workflows.fakes import failing_tests, ok


@dataclass
class Run:
    """One command an agent ran: which job, on which agent, from when to when (wall clock)."""

    request: AgentCommand
    started: float
    ended: float


@dataclass
class TimedAgent:
    """The agent activities (same names as the real ones): each command takes `work` seconds."""

    work: float = 0.02
    runs: list[Run] = field(default_factory=list)
    fail_tests_once: set[str] = field(default_factory=set)  # issue keys whose first TEST run fails
    down: set[str] = field(default_factory=set)  # agent addresses that are stopped
    block: set[str] = field(default_factory=set)  # commands that wait until unblocked (or the agent stops)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def activities(self) -> list[Callable[..., Any]]:
        """The activity functions to register on a worker."""

        @activity.defn(name="execute_agent_job")
        async def execute_agent_job(request: AgentCommand) -> AgentOutcome:
            started = time.time()
            if request.command in self.block:
                self.started.set()
                while request.command in self.block and request.agent_address not in self.down:
                    activity.heartbeat()
                    await asyncio.sleep(0.05)
            if request.agent_address in self.down:
                raise ApplicationError(
                    f"lost agent {request.agent_address} (UNAVAILABLE)", type="AgentUnavailable", non_retryable=True
                )
            await asyncio.sleep(self.work)
            self.runs.append(Run(request, started, time.time()))
            if request.command == "TEST" and request.issue_key in self.fail_tests_once:
                self.fail_tests_once.discard(request.issue_key)
                return failing_tests(request)
            return ok(request)

        @activity.defn(name="get_credentials")
        async def get_credentials(request: CredentialsRequest) -> CredentialRefs:
            return CredentialRefs(["git:default", "agent:default"])

        return [execute_agent_job, get_credentials]
