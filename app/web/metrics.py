"""`GET /metrics`: the service's figures in the Prometheus text format, read from the database at scrape time.

gunicorn runs several worker processes, and a scrape reaches any one of them: counters kept in a process's memory
would disagree from scrape to scrape and vanish with the process. The database is the truth every process shares,
so each scrape asks it, with a few GROUP BY queries (the tables read row by row, agents and project queues, are
as small as the fleet and the list of projects). Counters and the duration histogram count rows that are never
deleted (a webhook claim released on an outage is deleted before it counts) and end times written once, so they
only grow; figures that can go down are gauges. The Temporal SDK's own metrics (workflow and activity latencies,
failures, retries) are the worker's, served at WORKER_METRICS_ADDRESS (app/worker/main.py).

Access: `Authorization: Bearer` with ORCHESTRATOR_METRICS_TOKEN (a read-only credential for Prometheus) or the API
token; neither configured = closed. The port also takes Jira's webhooks from the internet, and these figures name
projects and agent addresses (README, "Metrics").
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy import ColumnElement, Connection, Engine, case, extract, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.config import PHASES, Settings
from app.jobqueue.agents import OFFLINE, ONLINE
from app.jobqueue.order import ENDED, IN_PROGRESS, KINDS, QUEUED, STATUSES
from app.store.models import Agent, AgentJob, Orchestration, ProjectQueue, WebhookDelivery
from app.web.auth import bearer_matches
from webhooks.deliveries import CLAIMED

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

# Upper bounds (seconds) of the job duration buckets: a demo job takes seconds, a coding agent minutes to hours
# (AGENT_START_TO_CLOSE is 2 h by default).
JOB_DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """The exposition (text format 0.0.4, or OpenMetrics when the scraper asks for it); 401 without a token."""
    settings: Settings = current_app.extensions["settings"]
    tokens = (settings.orchestrator.metrics_token, settings.orchestrator.api_token)
    challenge = {"WWW-Authenticate": 'Bearer realm="metrics"'}
    if not any(tokens):
        return (
            jsonify(error="metrics are closed: set ORCHESTRATOR_METRICS_TOKEN or ORCHESTRATOR_API_TOKEN"),
            401,
            challenge,
        )
    if not bearer_matches(*tokens):
        return jsonify(error="missing or wrong bearer token"), 401, challenge
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encoder(DatabaseCollector(current_app.extensions["db_engine"])), content_type=content_type)


class DatabaseCollector:
    """A prometheus_client collector whose every scrape reads the figures from the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        """Every family; when the database cannot answer, only `orchestrator_database_up 0` and the scrape time."""
        started = time.perf_counter()
        families: list[Metric] = []
        up = 1
        try:
            with self.engine.connect() as connection:
                for read in (_deliveries, _orchestrations, _jobs, _job_durations, _queues, _agents):
                    families.extend(read(connection))
        except SQLAlchemyError as err:  # all or nothing: half a scrape would look like figures dropping to zero
            log.warning("metrics.database-unavailable %s: %s", type(err).__name__, str(err).splitlines()[0][:200])
            families, up = [], 0
        yield from families
        yield GaugeMetricFamily(
            "orchestrator_database_up", "1 when this scrape could read the database, 0 otherwise.", up
        )
        yield GaugeMetricFamily(
            "orchestrator_metrics_scrape_duration_seconds",
            "Time this scrape spent reading the database.",
            time.perf_counter() - started,
        )


def _deliveries(connection: Connection) -> Iterator[Metric]:
    rows = connection.execute(select(WebhookDelivery.outcome, func.count()).group_by(WebhookDelivery.outcome))
    settled = CounterMetricFamily(
        "orchestrator_webhook_deliveries",
        "Jira webhook deliveries acted on, by outcome (dispatched to Temporal, or no-run: no run to signal).",
        labels=["outcome"],
    )
    unsettled = 0
    for outcome, count in rows:
        if outcome == CLAIMED:
            unsettled = count
        else:
            settled.add_metric([outcome], count)
    yield settled
    yield GaugeMetricFamily(
        "orchestrator_webhook_deliveries_unsettled",
        "Deliveries claimed whose outcome is not recorded: in flight, or their request died before recording it.",
        unsettled,
    )


def _orchestrations(connection: Connection) -> Iterator[Metric]:
    query = select(Orchestration.project_key, Orchestration.status, func.count()).group_by(
        Orchestration.project_key, Orchestration.status
    )
    current = GaugeMetricFamily(
        "orchestrator_orchestrations",
        "Orchestration runs by Jira project and current status (running, waiting_for_approval, completed, failed ...).",
        labels=["project", "status"],
    )
    started: Counter[str] = Counter()
    for project, status, count in connection.execute(query):
        current.add_metric([project, status], count)
        started[project] += count
    total = CounterMetricFamily(
        "orchestrator_orchestrations_started", "Orchestration runs started (one per Temporal run).", labels=["project"]
    )
    for project, count in sorted(started.items()):
        total.add_metric([project], count)
    yield total
    yield current


def _jobs(connection: Connection) -> Iterator[Metric]:
    columns = (AgentJob.status, AgentJob.phase, AgentJob.queue_kind, AgentJob.error_kind)
    query = select(*columns, func.count(), func.coalesce(func.sum(AgentJob.recoveries), 0)).group_by(*columns)
    by_state: Counter[tuple[str, str, str]] = Counter({(s, p, k): 0 for s in STATUSES for p in PHASES for k in KINDS})
    failures: Counter[str] = Counter()
    recoveries = 0
    for status, phase, kind, error_kind, count, recovered in connection.execute(query):
        by_state[(status, phase, kind)] += count
        recoveries += int(recovered)
        if status == "failed":
            failures[error_kind or "unknown"] += count
    jobs = GaugeMetricFamily(
        "orchestrator_agent_jobs",
        "Agent jobs (one per phase run) by current status, phase and queue kind.",
        labels=["status", "phase", "queue_kind"],
    )
    for labels, count in sorted(by_state.items()):
        jobs.add_metric(list(labels), count)
    yield jobs
    failed = GaugeMetricFamily(
        "orchestrator_agent_jobs_failed",
        "Agent jobs whose status is failed, by error kind (a gauge: a job failed as AGENT_LOST may yet complete).",
        labels=["error_kind"],
    )
    for error_kind, count in sorted(failures.items()):
        failed.add_metric([error_kind], count)
    yield failed
    yield CounterMetricFamily(
        "orchestrator_agent_job_recoveries",
        "Times a lost job (orphaned, stuck, or on an offline agent) went back to the queue.",
        recoveries,
    )


def _duration_rows(connection: Connection) -> dict[str, tuple[Any, ...]]:
    """Per phase: (ended jobs, their summed seconds, how many took at most each bucket's bound, cumulative)."""
    ended = (AgentJob.status.in_(ENDED), AgentJob.started_at.is_not(None), AgentJob.finished_at.is_not(None))
    buckets: list[ColumnElement[Any]]
    if connection.dialect.name == "sqlite":
        # Timestamps are text there: julianday() parses each once, in a materialized CTE (inlined, it would run
        # once per bucket: 2.5x slower on 100k jobs).
        seconds = (func.julianday(AgentJob.finished_at) - func.julianday(AgentJob.started_at)) * 86400.0
        spans = select(AgentJob.phase, seconds.label("seconds")).where(*ended).cte("spans").prefix_with("MATERIALIZED")
        buckets = [func.sum(case((spans.c.seconds <= bound, 1), else_=0)) for bound in JOB_DURATION_BUCKETS]
        totals = (func.count(), func.coalesce(func.sum(spans.c.seconds), 0.0))
        query = select(spans.c.phase, *totals, *buckets).group_by(spans.c.phase)
    else:
        # PostgreSQL compares intervals natively (extracting epoch seconds as numeric per row is 3x slower).
        span = AgentJob.finished_at - AgentJob.started_at
        buckets = [func.count().filter(span <= timedelta(seconds=bound)) for bound in JOB_DURATION_BUCKETS]
        totals = (func.count(), func.coalesce(extract("epoch", func.sum(span)), 0.0))
        query = select(AgentJob.phase, *totals, *buckets).where(*ended).group_by(AgentJob.phase)
    return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def _job_durations(connection: Connection) -> Iterator[Metric]:
    rows: dict[str, tuple[Any, ...]] = {phase: (0, 0.0, *[0] * len(JOB_DURATION_BUCKETS)) for phase in PHASES}
    rows.update(_duration_rows(connection))
    family = HistogramMetricFamily(
        "orchestrator_agent_job_duration_seconds",
        "Time from an agent job's claim (started_at) to its end (finished_at), for ended jobs, by phase.",
        labels=["phase"],
    )
    for phase, (count, total, *cumulative) in sorted(rows.items()):
        points = [(str(bound), int(n or 0)) for bound, n in zip(JOB_DURATION_BUCKETS, cumulative, strict=True)]
        family.add_metric([phase], [*points, ("+Inf", int(count))], sum_value=float(total))
    yield family


def _queues(connection: Connection) -> Iterator[Metric]:
    waiting = select(AgentJob.project_key, AgentJob.queue_kind, func.count()).where(AgentJob.status == QUEUED)
    depth: Counter[tuple[str, str]] = Counter()
    paused = GaugeMetricFamily(
        "orchestrator_queue_paused", "1 while a project's job queue is paused.", labels=["project"]
    )
    for project, is_paused in connection.execute(select(ProjectQueue.project_key, ProjectQueue.paused)):
        depth.update({(project, kind): 0 for kind in KINDS})  # a known queue that drains shows 0, not a gap
        paused.add_metric([project], 1 if is_paused else 0)
    for project, kind, count in connection.execute(waiting.group_by(AgentJob.project_key, AgentJob.queue_kind)):
        depth[(project, kind)] += count
    family = GaugeMetricFamily(
        "orchestrator_queue_depth",
        "Queued agent jobs by Jira project and queue kind.",
        labels=["project", "queue_kind"],
    )
    for labels, count in sorted(depth.items()):
        family.add_metric(list(labels), count)
    yield family
    yield paused


def _agents(connection: Connection) -> Iterator[Metric]:
    running = (
        select(AgentJob.agent_id, func.count())
        .where(AgentJob.status == IN_PROGRESS, AgentJob.agent_id.is_not(None))
        .group_by(AgentJob.agent_id)
    )
    busy = {agent_id: count for agent_id, count in connection.execute(running)}
    statuses: Counter[str] = Counter({ONLINE: 0, OFFLINE: 0})
    failures = GaugeMetricFamily(
        "orchestrator_agent_consecutive_failures", "Health checks failed in a row, per agent.", labels=["agent"]
    )
    jobs = GaugeMetricFamily("orchestrator_agent_jobs_in_progress", "Jobs an agent is running now.", labels=["agent"])
    seen = GaugeMetricFamily(
        "orchestrator_agent_last_seen_timestamp_seconds",
        "When an agent last answered a health check (Unix time); its age is time() minus this.",
        labels=["agent"],
    )
    query = select(Agent.id, Agent.status, Agent.consecutive_failures, Agent.last_seen_at).order_by(Agent.id)
    for agent_id, status, failed, last_seen in connection.execute(query):
        statuses[status] += 1
        failures.add_metric([agent_id], failed)
        jobs.add_metric([agent_id], busy.get(agent_id, 0))
        if last_seen is not None:
            seen.add_metric([agent_id], last_seen.timestamp())
    family = GaugeMetricFamily("orchestrator_agents", "Registered agents by status.", labels=["status"])
    for status, count in sorted(statuses.items()):
        family.add_metric([status], count)
    yield family
    yield failures
    yield jobs
    yield seen
