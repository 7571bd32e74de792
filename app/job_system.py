"""Composition of the job system for the worker: its workflows, its activities, and its start-up.

Start-up registers the agents of AGENT_ADDRESSES (an agent already known keeps its health) and creates or
updates every schedule, so a fresh worker against a fresh Temporal is complete without any manual step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.agent_health import AgentHealthActivities
from activities.queue import QueueActivities
from activities.reconcile import IssueSearch, ReconcileActivities
from activities.recovery import RecoveryActivities
from activities.temporal_ops import TemporalActivities
from app.config import Settings
from app.jobqueue import agents
from app.schedules import ensure_schedules

log = logging.getLogger(__name__)


def job_system_workflows() -> list[type]:
    """The queue monitor, agent health check, job recovery and reconciliation workflows."""
    from workflows.agent_health import AgentHealthCheckWorkflow
    from workflows.queue_monitor import QueueMonitorWorkflow
    from workflows.reconcile import ReconcileWorkflow
    from workflows.recovery import JobRecoveryWorkflow

    return [QueueMonitorWorkflow, AgentHealthCheckWorkflow, JobRecoveryWorkflow, ReconcileWorkflow]


def job_system_activities(
    session_factory: sessionmaker[Session], client: Client, settings: Settings, token: str, search: IssueSearch
) -> list[Callable[..., Any]]:
    """Every activity of the job system, bound to its dependencies."""
    queue = QueueActivities(session_factory)
    health = AgentHealthActivities(session_factory, settings.agents, token, settings.queue.offline_after)
    recovery = RecoveryActivities(session_factory, settings.queue.stuck_after, settings.queue.max_recoveries)
    temporal = TemporalActivities(client)
    reconcile = ReconcileActivities(search, session_factory, settings, client)
    return [
        queue.enqueue_job,
        queue.claim_next_job,
        queue.get_next_job,
        queue.update_job_status,
        queue.log_to_job,
        queue.remove_job_from_queue,
        queue.reprioritize_queue_after_removal,
        queue.is_queue_paused,
        queue.get_agent,
        queue.has_agent_in_progress_job,
        queue.list_idle_agents,
        queue.get_job_details,
        queue.withdraw_job,
        health.check_agent_health,
        health.record_agent_health,
        health.list_agents,
        recovery.list_recovery_suspects,
        recovery.recover_job,
        temporal.start_job_workflow,
        temporal.start_queue_monitor,
        temporal.describe_workflows,
        temporal.terminate_workflow,
        temporal.set_agent_schedules_paused,
        reconcile.find_unorchestrated_issues,
        reconcile.start_orchestrations,
    ]


async def start_job_system(client: Client, settings: Settings, session_factory: sessionmaker[Session]) -> None:
    """Register the configured agents and create or update every schedule."""
    with session_factory.begin() as session:
        for address in settings.agents.addresses:
            agents.register(session, address)
    with session_factory() as session:
        known = {agent.agent_id: agent.status == agents.ONLINE for agent in agents.list_agents(session)}
    done = await ensure_schedules(client, settings, known)
    log.info("worker.schedules %s", " ".join(f"{sid}={what}" for sid, what in sorted(done.items())))
