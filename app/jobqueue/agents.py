"""The agent registry and its health: registration, listing, and recording each health check's answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import parse_host_port
from app.jobqueue.locks import begin_write, lock_agent
from app.jobqueue.order import IN_PROGRESS
from app.store.models import Agent, AgentJob

ONLINE = "online"
OFFLINE = "offline"
MAX_ERROR = 500


@dataclass(frozen=True)
class AgentView:
    """An agent as `orchestrator agents` shows it; the id is its address."""

    agent_id: str
    address: str
    roles: list[str]
    status: str
    consecutive_failures: int
    last_seen_at: str | None
    last_checked_at: str | None
    last_error: str | None
    running_job: str | None


@dataclass(frozen=True)
class HealthChange:
    """What one health check changed: the agent's status now, its failure count, and any transition."""

    agent_id: str
    known: bool
    ok: bool
    status: str
    consecutive_failures: int
    went_offline: bool = False
    came_back: bool = False


def _view(agent: Agent, running: str | None) -> AgentView:
    return AgentView(
        agent_id=agent.id,
        address=agent.address,
        roles=[r for r in agent.roles.split(",") if r],
        status=agent.status,
        consecutive_failures=agent.consecutive_failures,
        last_seen_at=agent.last_seen_at.isoformat() if agent.last_seen_at else None,
        last_checked_at=agent.last_checked_at.isoformat() if agent.last_checked_at else None,
        last_error=agent.last_error,
        running_job=running,
    )


def register(session: Session, address: str, roles: list[str] | None = None, *, revive: bool = False) -> AgentView:
    """Add an agent by address (its id), or update its roles; `revive` also marks a known one online and healthy."""
    address = parse_host_port("agent address", address)
    begin_write(session)
    agent = lock_agent(session, address)
    if agent is None:
        agent = Agent(id=address, address=address, roles="", status=ONLINE, consecutive_failures=0)
        session.add(agent)
    elif revive:
        agent.status, agent.consecutive_failures, agent.last_error = ONLINE, 0, None
    if roles is not None:
        agent.roles = ",".join(sorted({r.strip() for r in roles if r.strip()}))
    session.flush()
    return _view(agent, _running(session, agent.id))


def list_agents(session: Session, status: str | None = None) -> list[AgentView]:
    """Every registered agent (or those with `status`), by address, with the job each runs."""
    query = select(Agent).order_by(Agent.address)
    if status is not None:
        query = query.where(Agent.status == status)
    return [_view(agent, _running(session, agent.id)) for agent in session.scalars(query)]


def idle_agents(session: Session) -> list[str]:
    """Ids of online, healthy agents with no job in progress: the ones a nudge tries to give work."""
    busy = select(AgentJob.agent_id).where(AgentJob.status == IN_PROGRESS, AgentJob.agent_id.is_not(None))
    query = select(Agent.id).where(Agent.status == ONLINE, Agent.consecutive_failures == 0, Agent.id.not_in(busy))
    return list(session.scalars(query.order_by(Agent.id)))


def record_health(
    session: Session, agent_id: str, ok: bool, detail: str, offline_after: int, checked_at: datetime
) -> HealthChange:
    """Count one health check: success resets the failures (and brings an offline agent back); failures add up
    and the `offline_after`-th in a row marks the agent offline. The same check recorded twice counts once."""
    begin_write(session)
    agent = lock_agent(session, agent_id)
    if agent is None:
        return HealthChange(agent_id, False, ok, OFFLINE, 0)
    if agent.last_checked_at is not None and agent.last_checked_at >= checked_at:
        return HealthChange(agent_id, True, ok, agent.status, agent.consecutive_failures)
    agent.last_checked_at = checked_at
    if ok:
        came_back = agent.status == OFFLINE
        agent.status, agent.consecutive_failures, agent.last_error = ONLINE, 0, None
        agent.last_seen_at = checked_at
        return HealthChange(agent_id, True, True, ONLINE, 0, came_back=came_back)
    agent.consecutive_failures += 1
    agent.last_error = detail[:MAX_ERROR]
    went_offline = agent.status == ONLINE and agent.consecutive_failures >= offline_after
    if went_offline:
        agent.status = OFFLINE
    return HealthChange(agent_id, True, False, agent.status, agent.consecutive_failures, went_offline=went_offline)


def _running(session: Session, agent_id: str) -> str | None:
    query = select(AgentJob.id).where(AgentJob.agent_id == agent_id, AgentJob.status == IN_PROGRESS).limit(1)
    return session.scalar(query)
