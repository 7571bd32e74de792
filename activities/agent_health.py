"""Agent health activities: the gRPC health ping (5 s deadline), counting its answers, and listing agents.

The ping is the standard `grpc.health.v1.Health/Check`, which every gRPC agent can serve and which needs no
agent protocol stubs; we still send the shared token, so an agent that guards the health service accepts it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from app.agent_client.auth import call_metadata
from app.agent_client.client import open_channel
from app.config import AgentSettings
from app.jobqueue import agents
from app.jobqueue.agents import AgentView, HealthChange

PING_DEADLINE = 5.0


@dataclass(frozen=True)
class HealthProbe:
    """Which agent to ping (its id is its address)."""

    agent_id: str


@dataclass(frozen=True)
class HealthAnswer:
    """Whether the agent said SERVING within the deadline, and if not, why."""

    ok: bool
    detail: str = ""
    latency_ms: int = 0


@dataclass(frozen=True)
class HealthObservation:
    """One ping's answer to record, stamped with the checking workflow's clock (so a retry counts once)."""

    agent_id: str
    ok: bool
    detail: str
    checked_at: datetime


@dataclass(frozen=True)
class AgentQuery:
    """Which agents to list: all, or those with this status (`online` / `offline`)."""

    status: str | None = None


class AgentHealthActivities:
    """Pings agents and keeps their health in the database; `offline_after` failed pings in a row mean offline."""

    def __init__(
        self, session_factory: sessionmaker[Session], agent_settings: AgentSettings, token: str, offline_after: int = 3
    ) -> None:
        self.session_factory = session_factory
        self.agent_settings = agent_settings
        self.token = token
        self.offline_after = offline_after

    @activity.defn
    def check_agent_health(self, probe: HealthProbe) -> HealthAnswer:
        """Ask the agent's health service with a 5 s deadline; no answer is an answer (ok=False), not an error."""
        started = time.monotonic()
        channel = open_channel(probe.agent_id, self.agent_settings)
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=PING_DEADLINE, metadata=call_metadata(self.token)
            )
        except grpc.RpcError as err:
            code = err.code()
            # Only the status code: details may echo request metadata, and the token must never be logged.
            return HealthAnswer(
                False,
                f"no answer within {PING_DEADLINE:g}s"
                if code == grpc.StatusCode.DEADLINE_EXCEEDED
                else f"health check failed: {code.name}",
            )
        finally:
            channel.close()
        latency = int((time.monotonic() - started) * 1000)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            return HealthAnswer(False, f"the agent reports {status}", latency)
        return HealthAnswer(True, "", latency)

    @activity.defn
    def record_agent_health(self, observation: HealthObservation) -> HealthChange:
        """Count the answer: success resets the failures (an offline agent is back), failures may mark it offline."""
        with self.session_factory.begin() as session:
            change = agents.record_health(
                session,
                observation.agent_id,
                observation.ok,
                observation.detail,
                self.offline_after,
                observation.checked_at,
            )
        if change.went_offline:
            activity.logger.warning("agent.offline agent=%s failures=%d", change.agent_id, change.consecutive_failures)
        if change.came_back:
            activity.logger.info("agent.online-again agent=%s", change.agent_id)
        return change

    @activity.defn
    def list_agents(self, query: AgentQuery) -> list[AgentView]:
        """Registered agents (all, or with the given status)."""
        with self.session_factory() as session:
            return agents.list_agents(session, query.status)
