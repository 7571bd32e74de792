"""The worker's one registry: every workflow, every activity bound to its dependencies, and the job system's start-up.

Workflow modules import the activity modules (for typed references), never the other way round; activities that
start workflows get the workflows' run methods from here. Start-up registers the agents of AGENT_ADDRESSES (an
agent already known keeps its health) and creates or updates every schedule, so a fresh worker against a fresh
Temporal is complete without any manual step.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.agent import AgentActivities
from activities.agent_health import AgentHealthActivities
from activities.forge import ForgeActivities
from activities.jira import JiraActivities
from activities.jobs import JobActivities
from activities.notify import NotifyActivities
from activities.queue import QueueActivities
from activities.reconcile import IssueSearch, ReconcileActivities
from activities.records import RecordActivities
from activities.recovery import RecoveryActivities
from activities.temporal_ops import TemporalActivities
from app.agent_client.auth import agent_token
from app.config import Settings
from app.forge import build_forge
from app.jira_gateway import ApprovalPolicy, JiraGateway
from app.jobqueue import agents
from app.store.db import make_engine, make_session_factory
from app.temporal import control
from app.temporal.control import Started
from app.temporal.job_control import temporal_calls
from app.temporal.schedules import ensure_schedules
from workflows.agent_health import AgentHealthCheckWorkflow
from workflows.command_answer import CommandAnswerWorkflow
from workflows.job_execution import JobExecutionWorkflow
from workflows.messages import Source
from workflows.orchestration import OrchestrationWorkflow
from workflows.pull_request_closed import PullRequestClosedWorkflow
from workflows.queue_monitor import QueueMonitorWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.recovery import JobRecoveryWorkflow

log = logging.getLogger(__name__)


def workflow_classes() -> list[type]:
    """Every workflow this worker runs."""
    return [
        OrchestrationWorkflow,
        JobExecutionWorkflow,
        CommandAnswerWorkflow,
        PullRequestClosedWorkflow,
        *job_system_workflows(),
    ]


def activity_functions(settings: Settings, client: Client | None = None) -> list[Callable[..., Any]]:
    """Every activity, bound to its dependencies (the job system's need the worker's client)."""
    session_factory = make_session_factory(make_engine(settings.database_url))
    records = RecordActivities(
        session_factory,
        temporal_ui=f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}",
        dashboard_url=settings.orchestrator.public_url,
    )
    jobs = JobActivities(session_factory, settings.agents.addresses)
    gateway = JiraGateway(settings.jira, ApprovalPolicy.from_settings(settings.orchestrator))
    jira = JiraActivities(gateway)
    token = agent_token(settings)
    agent = AgentActivities(settings.agents, token, session_factory)
    notify = NotifyActivities(settings.notify, session_factory)
    forge_settings = settings.forge
    forge = ForgeActivities(
        build_forge(forge_settings), f"{settings.jira.url}/browse", forge_settings.base_branch, forge_settings.draft
    )
    job_system = job_system_activities(session_factory, client, settings, token, gateway) if client else []
    return [
        agent.execute_agent_job,
        agent.get_credentials,
        jira.upsert_status_comment,
        jira.post_comment_once,
        jira.transition_issue,
        jira.change_labels,
        jira.read_issue,
        jira.upsert_remote_link,
        jira.attach_text,
        jira.check_approver,
        records.record_orchestration,
        records.run_links,
        jobs.create_job,
        jobs.assign_agent,
        jobs.finish_job,
        jobs.save_checkpoint,
        notify.send_notification,
        forge.open_pull_request,
        *job_system,
    ]


def job_system_workflows() -> list[type]:
    """The queue monitor, agent health check, job recovery and reconciliation workflows."""
    return [QueueMonitorWorkflow, AgentHealthCheckWorkflow, JobRecoveryWorkflow, ReconcileWorkflow]


def reconcile_starter(client: Client, settings: Settings) -> Callable[[str], Awaitable[Started]]:
    """The reconciliation sweep's start: the issue's orchestration, unless Temporal has any run of it."""

    async def start_unless_ever_run(issue_key: str) -> Started:
        input = control.orchestration_input(settings, issue_key, "reconcile", Source.RECONCILE)
        return await control.start_or_find(client, settings.temporal.task_queue, input, restart_finished=False)

    return start_unless_ever_run


def job_system_activities(
    session_factory: sessionmaker[Session], client: Client, settings: Settings, token: str, search: IssueSearch
) -> list[Callable[..., Any]]:
    """Every activity of the job system, bound to its dependencies."""
    queue = QueueActivities(session_factory)
    health = AgentHealthActivities(session_factory, settings.agents, token, settings.queue.offline_after)
    recovery = RecoveryActivities(session_factory, settings.queue.stuck_after, settings.queue.max_recoveries)
    temporal = TemporalActivities(temporal_calls(client))
    reconcile = ReconcileActivities(search, session_factory, settings, reconcile_starter(client, settings))
    return [
        queue.enqueue_job,
        queue.claim_next_job,
        queue.log_to_job,
        queue.list_idle_agents,
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
