"""The worker's one registry: every workflow, every activity bound to its dependencies, and the job system's start-up.

Workflow modules import the activity modules (for typed references), never the other way round; activities that
start workflows get the workflows' run methods from here. Start-up registers the agents of AGENT_ADDRESSES (an
agent already known keeps its health) and creates or updates every schedule, so a fresh worker against a fresh
Temporal is complete without any manual step.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.agent import RECORD_EVERY, AgentActivities
from activities.agent_health import AgentHealthActivities
from activities.dispatch import DispatchActivities
from activities.forge import ForgeActivities
from activities.jira import JiraActivities
from activities.jobs import JobActivities
from activities.merges import MergedPull, MergeSweepActivities, TellMerge
from activities.missed_commands import (
    ApproveMoves,
    CommentReader,
    GateSince,
    MissedCommandActivities,
    ParsedCommand,
    SendCommand,
)
from activities.notify import NotifyActivities
from activities.queue import QueueActivities
from activities.reconcile import ReconcileActivities
from activities.records import RecordActivities
from activities.recovery import RecoveryActivities
from activities.retention import RetentionActivities
from activities.starts import GroupLookup, StartActivities, StartPolicy
from activities.temporal_ops import TemporalActivities
from app.agent_client.auth import agent_token
from app.config import Settings
from app.forge import build_forge
from app.jira_gateway import ApprovalPolicy, JiraGateway
from app.jobqueue import agents
from app.store.db import engine_for, make_session_factory
from app.temporal import control
from app.temporal.control import Started
from app.temporal.job_control import temporal_calls
from app.temporal.schedules import ensure_schedules
from app.worker.capacity import ACTIVITY_THREADS, DB_POOL
from webhooks.commands import Command, parse_command
from workflows.agent_health import AgentHealthCheckWorkflow
from workflows.command_answer import CommandAnswerWorkflow
from workflows.job_execution import JobExecutionWorkflow
from workflows.messages import CommandContext, OrchestrationInput, Source
from workflows.orchestration import OrchestrationWorkflow
from workflows.pull_request_closed import PullRequestClosedInput, PullRequestClosedWorkflow
from workflows.queue_monitor import QueueMonitorWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.recovery import JobRecoveryWorkflow
from workflows.retention import RetentionWorkflow
from workflows.start_check import StartCheckWorkflow

log = logging.getLogger(__name__)


def workflow_classes() -> list[type]:
    """Every workflow this worker runs."""
    return [
        OrchestrationWorkflow,
        JobExecutionWorkflow,
        CommandAnswerWorkflow,
        StartCheckWorkflow,
        PullRequestClosedWorkflow,
        *job_system_workflows(),
    ]


def activity_functions(settings: Settings, client: Client | None = None) -> list[Callable[..., Any]]:
    """Every activity, bound to its dependencies (the job system's need the worker's client)."""
    session_factory = make_session_factory(engine_for(settings, DB_POOL))
    records = RecordActivities(
        session_factory,
        temporal_ui=f"{settings.temporal.ui_url}/namespaces/{settings.temporal.namespace}",
        dashboard_url=settings.orchestrator.public_url,
    )
    jobs = JobActivities(session_factory, settings.agents.addresses)
    gateway = JiraGateway(
        settings.jira, ApprovalPolicy.from_settings(settings.orchestrator), connections=ACTIVITY_THREADS
    )
    jira = JiraActivities(gateway)
    token = agent_token(settings)
    # Stamp a followed job at least four times per JOB_STUCK_AFTER, so a quiet one is never judged stuck.
    stamp_every = min(RECORD_EVERY, settings.queue.stuck_after.total_seconds() / 4)
    agent = AgentActivities(settings.agents, token, session_factory, stamp_every)
    notify = NotifyActivities(settings.notify, session_factory)
    job_system = job_system_activities(session_factory, client, settings, token, gateway, gateway) if client else []
    starts = StartActivities(StartPolicy(gateway, session_factory, settings.starts), checked_starter(client, settings))
    forge_settings = settings.forge
    forge = ForgeActivities(
        build_forge(forge_settings), f"{settings.jira.url}/browse", forge_settings.base_branch, forge_settings.draft
    )
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
        records.record_phase_end,
        records.run_links,
        jobs.create_job,
        jobs.assign_agent,
        jobs.finish_job,
        jobs.save_checkpoint,
        notify.send_notification,
        starts.check_start,
        starts.start_checked_orchestration,
        forge.open_pull_request,
        *job_system,
    ]


def job_system_workflows() -> list[type]:
    """The queue monitor, agent health check, job recovery, reconciliation and retention workflows."""
    return [QueueMonitorWorkflow, AgentHealthCheckWorkflow, JobRecoveryWorkflow, ReconcileWorkflow, RetentionWorkflow]


def reconcile_starter(client: Client, settings: Settings) -> Callable[[str, str | None], Awaitable[Started]]:
    """The reconciliation sweep's start: the issue's orchestration, unless Temporal has any run of it."""

    async def start_unless_ever_run(issue_key: str, starter: str | None) -> Started:
        input = control.orchestration_input(settings, issue_key, starter or "reconcile", Source.RECONCILE)
        return await control.start_or_find(client, settings.temporal.task_queue, input, restart_finished=False)

    return start_unless_ever_run


def checked_starter(client: Client | None, settings: Settings) -> Callable[[OrchestrationInput], Awaitable[Started]]:
    """The start check's start: the issue's orchestration (a live one kept, a finished one started again)."""

    async def start(input: OrchestrationInput) -> Started:
        if client is None:
            raise RuntimeError("this worker has no Temporal client to start orchestrations with")
        return await control.start_or_find(client, settings.temporal.task_queue, input)

    return start


def read_command(body: str, bot_account_id: str) -> ParsedCommand | None:
    """The comment grammar's reading of a comment, for the sweep that recovers missed commands."""
    parsed = parse_command(body, bot_account_id)
    return ParsedCommand(parsed.verb, parsed.text, parsed.argument) if isinstance(parsed, Command) else None


def merge_teller(client: Client, settings: Settings) -> TellMerge:
    """The sweep's start of a merge's workflow, as the forge webhook starts it, under the same workflow id (the
    delivery id is not part of a merge's id); False: already told."""
    provider, done = settings.forge.provider or "", settings.orchestrator.done_status

    async def tell(pull: MergedPull) -> bool:
        event = PullRequestClosedInput(pull.issue_key, provider, pull.number, pull.url, True, "reconcile", done)
        return await control.pull_request_closed(client, settings.temporal.task_queue, event)

    return tell


def command_sender(client: Client) -> SendCommand:
    """The sweep's send of a recovered command: the verb's signal, as the webhook sends it (NoRun is a LookupError)."""

    async def send(issue_key: str, verb: str, context: CommandContext, text: str, argument: str | None) -> None:
        await control.signal(client, issue_key, verb, context, text, argument)

    return send


def gate_reader(client: Client) -> GateSince:
    """When the gate the issue's run waits at began (its phase's end, from the run's state); None: none waits."""

    async def gate_since(issue_key: str) -> datetime | None:
        try:
            view = await control.read(client, issue_key)
        except control.NoRun:
            return None
        state = view.state
        if view.temporal_status != "RUNNING" or state.pending_gate is None:
            return None
        ended = next((p.finished_at for p in state.phases if p.phase == state.pending_gate), None)
        return datetime.fromisoformat(ended) if ended else None

    return gate_since


def job_system_activities(
    session_factory: sessionmaker[Session],
    client: Client,
    settings: Settings,
    token: str,
    search: CommentReader,
    groups: GroupLookup | None = None,
) -> list[Callable[..., Any]]:
    """Every activity of the job system, bound to its dependencies."""
    queue = QueueActivities(session_factory)
    health = AgentHealthActivities(session_factory, settings.agents, token, settings.queue.offline_after)
    recovery = RecoveryActivities(session_factory, settings.queue.stuck_after, settings.queue.max_recoveries)
    temporal = TemporalActivities(temporal_calls(client))
    dispatch = DispatchActivities(JobActivities(session_factory), queue, temporal.calls)
    checked = groups is not None and settings.starts.checked
    policy = StartPolicy(groups, session_factory, settings.starts) if checked and groups is not None else None
    reconcile = ReconcileActivities(search, session_factory, settings, reconcile_starter(client, settings), policy)
    retention = RetentionActivities(session_factory, settings.retention)
    moves = ApproveMoves(
        settings.queue.reconcile_lookback, settings.orchestrator.approve_status, settings.jira.webhook_max_age
    )
    missed = MissedCommandActivities(
        search, session_factory, moves, read_command, command_sender(client), gate_reader(client)
    )
    merges = MergeSweepActivities(
        build_forge(settings.forge), settings.queue.reconcile_lookback, merge_teller(client, settings)
    )
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
        dispatch.queue_job,
        dispatch.dispatch_jobs,
        temporal.start_job_workflow,
        temporal.start_queue_monitor,
        temporal.describe_workflows,
        temporal.terminate_workflow,
        temporal.set_agent_schedules_paused,
        reconcile.find_unorchestrated_issues,
        reconcile.start_orchestrations,
        missed.find_missed_commands,
        missed.send_missed_commands,
        merges.start_missed_merges,
        retention.purge_expired_rows,
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
