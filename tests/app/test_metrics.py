"""GET /metrics (figures read from SQLite and PostgreSQL at scrape time) and the worker's Temporal SDK metrics."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment

from activities.jobs import JobActivities, JobFinished
from activities.records import OrchestrationRecord, RecordActivities
from app.config import ConfigError
from app.jobqueue import agents, claims, edits
from app.web.factory import create_app
from app.worker.main import build_worker, connect_until_ready, metrics_runtime
from tests.conftest import free_port, make_settings
from tests.jobqueue.conftest import add_agents, add_job, job_input
from tests.webhooks.jira_payloads import fixture_body
from webhooks.deliveries import DeliveryStore
from webhooks.events import JiraEvent, read_jira_delivery
from webhooks.intents import JIRA_INTENT_PARSERS

API_TOKEN = "api-token-for-tests"
METRICS_TOKEN = "metrics-token-for-tests"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PHASES = ("EXPLORE", "PLAN", "CODE", "TEST", "FIX", "DOCUMENT")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def web_app(tmp_path: Path, **env: str) -> Flask:
    """The web app with these settings (and a known bot account, so no background /myself lookup)."""
    return create_app(make_settings(tmp_path, JIRA_BOT_ACCOUNT_ID="bot-account", **env))


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The web app on the migrated test database, with both tokens set."""
    app = web_app(
        tmp_path, DATABASE_URL=database_url, ORCHESTRATOR_API_TOKEN=API_TOKEN, ORCHESTRATOR_METRICS_TOKEN=METRICS_TOKEN
    )
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def factory(web: Flask) -> sessionmaker[Session]:
    """The app's own session factory, to build rows with."""
    session_factory: sessionmaker[Session] = web.extensions["session_factory"]
    return session_factory


def parse(text: str) -> Samples:
    """Every sample of an exposition by (name, labels), checking that no family is left without its TYPE."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.type != "unknown", family.name
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_metrics_need_a_bearer_token(web: Flask, tmp_path: Path) -> None:
    client = web.test_client()
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200
    assert client.get("/metrics", headers=SCRAPE).status_code == 200
    # The metrics token is read-only: it opens /metrics and nothing of the API.
    assert client.get("/api/orchestrations/DEMO-1", headers=SCRAPE).status_code == 401
    assert client.get("/api/projects/DEMO/queue", headers=SCRAPE).status_code == 401
    closed = web_app(tmp_path, DATABASE_URL=web.extensions["settings"].database_url)
    answer = closed.test_client().get("/metrics", headers=SCRAPE)
    assert answer.status_code == 401 and "ORCHESTRATOR_METRICS_TOKEN" in answer.json["error"]
    closed.extensions["db_engine"].dispose()


def test_an_empty_database_scrapes_as_zeros(web: Flask) -> None:
    samples = scrape(web.test_client())
    assert value(samples, "orchestrator_database_up") == 1
    assert value(samples, "orchestrator_webhook_deliveries_unsettled") == 0
    assert value(samples, "orchestrator_agent_job_recoveries_total") == 0
    assert series(samples, "orchestrator_webhook_deliveries_total") == {}
    jobs = series(samples, "orchestrator_agent_jobs")
    assert len(jobs) == 5 * 6 * 2 and set(jobs.values()) == {0}  # every status x phase x queue kind
    for phase in PHASES:
        assert value(samples, "orchestrator_agent_job_duration_seconds_count", phase=phase) == 0
        assert value(samples, "orchestrator_agent_job_duration_seconds_bucket", phase=phase, le="+Inf") == 0
    assert value(samples, "orchestrator_agents", status="online") == 0
    assert value(samples, "orchestrator_agents", status="offline") == 0
    assert value(samples, "orchestrator_metrics_scrape_duration_seconds") > 0


def test_openmetrics_when_the_scraper_asks_for_it(web: Flask) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"  # Prometheus's
    response = web.test_client().get("/metrics", headers={**SCRAPE, "Accept": accept})
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text; version=1.0.0")
    families = {family.name: family for family in openmetrics_families(response.text)}
    assert families["orchestrator_agent_job_recoveries"].type == "counter"
    assert families["orchestrator_agent_job_duration_seconds"].type == "histogram"


def test_an_unreadable_database_says_so_in_a_scrape(tmp_path: Path) -> None:
    # Not migrated: every query fails, and the scrape still answers (Prometheus keeps the target up).
    app = web_app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}", ORCHESTRATOR_API_TOKEN=API_TOKEN)
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert response.status_code == 200
    samples = parse(response.text)
    assert value(samples, "orchestrator_database_up") == 0
    assert series(samples, "orchestrator_agent_jobs") == {}
    app.extensions["db_engine"].dispose()


def _event(delivery_id: str) -> JiraEvent:
    read = read_jira_delivery(fixture_body("issue_updated__label_added_among_others"), delivery_id, JIRA_INTENT_PARSERS)
    assert isinstance(read, JiraEvent)
    # Each delivery here stands for a different event, so a different body (the same body would be a replay).
    return replace(read, body_sha256=hashlib.sha256(delivery_id.encode()).hexdigest())


def _deliveries(factory: sessionmaker[Session]) -> None:
    store = DeliveryStore(factory)
    for n, outcome in enumerate(["dispatched", "dispatched", "no-run", None]):
        claim = store.claim(_event(f"d-{n}"), "StartRequested")
        assert claim is not None
        if outcome is not None:
            store.settle(claim, outcome, "start")
    released = store.claim(_event("d-released"), "StartRequested")  # Temporal was down: forgotten
    assert released is not None
    store.release(released)


def _orchestrations(factory: sessionmaker[Session]) -> None:
    records = RecordActivities(factory)
    for run, project, status in [("r1", "ALPHA", "running"), ("r2", "ALPHA", "failed"), ("r3", "BETA", "completed")]:
        records.record_orchestration(
            OrchestrationRecord(f"{project}-1", project, f"orchestration-{project}-1", run, status)
        )
    records.record_orchestration(OrchestrationRecord("ALPHA-1", "ALPHA", "orchestration-ALPHA-1", "r1", "running"))


def _run(factory: sessionmaker[Session], job_id: str, project: str, phase: str, seconds: float, end: str) -> None:
    """Create and queue a job the orchestration's way, claim it at T0 and end it `seconds` later."""
    add_job(factory, replace(job_input(job_id, project), phase=phase))
    with factory.begin() as session:
        claim = claims.claim_next_job(session, "10.0.0.1:50051", clock=lambda: T0)
    assert claim is not None and claim.job_id == job_id
    kind = {"failed": "TESTS_FAILED"}.get(end)
    with factory.begin() as session:
        edits.update_status(session, job_id, end, T0 + timedelta(seconds=seconds), error_kind=kind)


def _jobs(factory: sessionmaker[Session]) -> None:
    add_agents(factory, "10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051")
    _run(factory, "plan-fast", "GAMMA", "PLAN", 3.5, "completed")
    _run(factory, "plan-slow", "GAMMA", "PLAN", 45, "completed")
    _run(factory, "plan-endless", "GAMMA", "PLAN", 9000, "failed")
    _run(factory, "code-1", "GAMMA", "CODE", 700, "completed")
    # A lost job goes back to the queue once (a recovery), then runs on the second agent: in progress.
    add_job(factory, replace(job_input("test-1", "GAMMA"), phase="TEST"))
    with factory.begin() as session:
        assert claims.claim_next_job(session, "10.0.0.1:50051") is not None
    with factory.begin() as session:
        assert edits.recover(session, "test-1", None, "agent gone", 3, T0).outcome == "requeued"
    with factory.begin() as session:
        assert claims.claim_next_job(session, "10.0.0.2:50051") is not None
    # Waiting: ALPHA has two backlog jobs and a rework one; BETA is paused with one; one ALPHA job was removed.
    for job_id, kind in [("a1", "backlog"), ("a2", "backlog"), ("a3", "rework"), ("gone", "backlog")]:
        add_job(factory, job_input(job_id, "ALPHA", kind))
    with factory.begin() as session:
        edits.set_paused(session, "BETA", True, "ops")
    add_job(factory, job_input("b1", "BETA"))
    with factory.begin() as session:
        edits.remove(session, "gone", "not needed", T0)


def _agents(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        agents.record_health(session, "10.0.0.1:50051", True, "", 3, T0)
    for n in range(1, 4):  # the third failed check in a row takes it offline
        with factory.begin() as session:
            agents.record_health(session, "10.0.0.3:50051", False, "refused", 3, T0 + timedelta(seconds=n))


def test_a_scrape_reads_the_figures_from_the_database(web: Flask, factory: sessionmaker[Session]) -> None:
    _deliveries(factory)
    _orchestrations(factory)
    _jobs(factory)
    _agents(factory)
    samples = scrape(web.test_client())
    assert value(samples, "orchestrator_database_up") == 1

    assert series(samples, "orchestrator_webhook_deliveries_total") == {
        frozenset({("outcome", "dispatched")}): 2,
        frozenset({("outcome", "no-run")}): 1,
    }
    assert value(samples, "orchestrator_webhook_deliveries_unsettled") == 1

    assert value(samples, "orchestrator_orchestrations_started_total", project="ALPHA") == 2
    assert value(samples, "orchestrator_orchestrations_started_total", project="BETA") == 1
    assert series(samples, "orchestrator_orchestrations") == {
        frozenset({("project", "ALPHA"), ("status", "running")}): 1,
        frozenset({("project", "ALPHA"), ("status", "failed")}): 1,
        frozenset({("project", "BETA"), ("status", "completed")}): 1,
    }

    jobs = {labels: n for labels, n in series(samples, "orchestrator_agent_jobs").items() if n}
    assert jobs == {
        frozenset({("status", "completed"), ("phase", "PLAN"), ("queue_kind", "backlog")}): 2,
        frozenset({("status", "failed"), ("phase", "PLAN"), ("queue_kind", "backlog")}): 1,
        frozenset({("status", "completed"), ("phase", "CODE"), ("queue_kind", "backlog")}): 1,
        frozenset({("status", "in_progress"), ("phase", "TEST"), ("queue_kind", "backlog")}): 1,
        frozenset({("status", "queued"), ("phase", "PLAN"), ("queue_kind", "backlog")}): 3,
        frozenset({("status", "queued"), ("phase", "PLAN"), ("queue_kind", "rework")}): 1,
        frozenset({("status", "cancelled"), ("phase", "PLAN"), ("queue_kind", "backlog")}): 1,
    }
    assert series(samples, "orchestrator_agent_jobs_failed") == {frozenset({("error_kind", "TESTS_FAILED")}): 1}
    assert value(samples, "orchestrator_agent_job_recoveries_total") == 1

    # Durations of ended jobs with a claim: PLAN 3.5 s, 45 s, 9000 s; CODE 700 s (the removed job never started).
    plan = {b: value(samples, "orchestrator_agent_job_duration_seconds_bucket", phase="PLAN", le=b) for b in LES}
    assert plan == dict(zip(LES, [0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3], strict=True))
    assert value(samples, "orchestrator_agent_job_duration_seconds_count", phase="PLAN") == 3
    assert value(samples, "orchestrator_agent_job_duration_seconds_sum", phase="PLAN") == pytest.approx(9048.5)
    code = {b: value(samples, "orchestrator_agent_job_duration_seconds_bucket", phase="CODE", le=b) for b in LES}
    assert code == dict(zip(LES, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], strict=True))
    assert value(samples, "orchestrator_agent_job_duration_seconds_count", phase="TEST") == 0

    assert series(samples, "orchestrator_queue_depth") == {
        frozenset({("project", "ALPHA"), ("queue_kind", "backlog")}): 2,
        frozenset({("project", "ALPHA"), ("queue_kind", "rework")}): 1,
        frozenset({("project", "BETA"), ("queue_kind", "backlog")}): 1,
        frozenset({("project", "BETA"), ("queue_kind", "rework")}): 0,
        frozenset({("project", "GAMMA"), ("queue_kind", "backlog")}): 0,  # drained: 0, not a gap
        frozenset({("project", "GAMMA"), ("queue_kind", "rework")}): 0,
    }
    assert value(samples, "orchestrator_queue_paused", project="BETA") == 1
    assert value(samples, "orchestrator_queue_paused", project="GAMMA") == 0

    assert value(samples, "orchestrator_agents", status="online") == 2
    assert value(samples, "orchestrator_agents", status="offline") == 1
    failures = series(samples, "orchestrator_agent_consecutive_failures")
    assert failures == {
        frozenset({("agent", "10.0.0.1:50051")}): 0,
        frozenset({("agent", "10.0.0.2:50051")}): 0,
        frozenset({("agent", "10.0.0.3:50051")}): 3,
    }
    assert value(samples, "orchestrator_agent_jobs_in_progress", agent="10.0.0.2:50051") == 1
    assert value(samples, "orchestrator_agent_jobs_in_progress", agent="10.0.0.1:50051") == 0
    assert series(samples, "orchestrator_agent_last_seen_timestamp_seconds") == {
        frozenset({("agent", "10.0.0.1:50051")}): T0.timestamp()
    }


LES = ["1.0", "5.0", "15.0", "30.0", "60.0", "120.0", "300.0", "600.0", "1200.0", "1800.0", "3600.0", "7200.0", "+Inf"]


def test_a_repeated_end_keeps_the_jobs_bucket(web: Flask, factory: sessionmaker[Session]) -> None:
    # Rows are never deleted and a job's end time is written once, so the histogram only grows between scrapes.
    add_agents(factory, "10.0.0.1:50051")
    _run(factory, "j1", "GAMMA", "PLAN", 10, "completed")
    client = web.test_client()
    before = series(scrape(client), "orchestrator_agent_job_duration_seconds_bucket")
    with factory.begin() as session:  # a retried status update, a minute later
        edits.update_status(session, "j1", "completed", T0 + timedelta(minutes=1))
    JobActivities(factory).finish_job(JobFinished("j1", "completed", "done", {}))  # the job workflow's own report
    assert series(scrape(client), "orchestrator_agent_job_duration_seconds_bucket") == before


# The worker's Temporal SDK metrics.

attempts: dict[str, int] = {}


@activity.defn
def flaky_step(name: str) -> str:
    """Fails its first attempt, so a retry shows in the metrics."""
    attempts[name] = attempts.get(name, 0) + 1
    if attempts[name] == 1:
        raise RuntimeError("first attempt fails")
    return f"done {name}"


@workflow.defn(sandboxed=False)  # this module imports the web app, which the sandbox would re-import
class FlakyWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            flaky_step,
            name,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


def fetch(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a loopback URL the test built
        return parse(answer.read().decode())


def until_metrics(url: str, check: Callable[[Samples], bool], timeout: float = 20.0) -> Samples:
    """Scrape until `check` holds: the SDK records some figures just after the call that caused them returns."""
    deadline = time.monotonic() + timeout
    while True:
        samples = fetch(url)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for metrics at {url}")
        time.sleep(0.05)


def of_queue(samples: Samples, name: str, task_queue: str) -> list[float]:
    """The values of `name` on `task_queue`."""
    return [v for labels, v in series(samples, name).items() if ("task_queue", task_queue) in labels]


async def test_the_worker_serves_temporal_sdk_metrics(
    temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = make_settings(
        tmp_path,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        WORKER_METRICS_ADDRESS=address,
    )
    client = await connect_until_ready(settings, asyncio.Event())  # the worker's own client
    assert client is not None
    assert metrics_runtime(address) is metrics_runtime(address)  # one runtime per process
    with ThreadPoolExecutor(32) as pool:
        async with build_worker(client, task_queue, [FlakyWorkflow], [flaky_step], pool, timedelta(seconds=5)):
            result = await client.execute_workflow(
                FlakyWorkflow.run, task_queue, id=f"wf-{task_queue}", task_queue=task_queue
            )
            assert result == f"done {task_queue}"
            # The SDK names counters without `_total`; prometheus_client's parser adds it to the samples.
            samples = await asyncio.to_thread(
                until_metrics,
                f"http://{address}/metrics",
                lambda got: of_queue(got, "temporal_workflow_completed_total", task_queue) == [1],
            )
    assert of_queue(samples, "temporal_workflow_endtoend_latency_count", task_queue) == [1]
    assert of_queue(samples, "temporal_activity_execution_failed_total", task_queue) == [1]  # the retried attempt
    assert of_queue(samples, "temporal_activity_execution_latency_count", task_queue) == [2]  # both attempts


def test_a_taken_metrics_address_is_a_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=r"^WORKER_METRICS_ADDRESS: cannot serve metrics on 127\.0\.0\.1:"):
            metrics_runtime(f"127.0.0.1:{port}")


def test_orchestrator_worker_serves_metrics_when_configured(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    task_queue = f"metrics-{tmp_path.name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_", "WORKER_"))}
    env.update(
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE=task_queue,
        ORCHESTRATOR_VAR_DIR=str(tmp_path),
        WORKER_METRICS_ADDRESS=address,
        WORKER_SHUTDOWN_GRACE="5s",
    )
    orchestrator = str(Path(sys.executable).parent / "orchestrator")
    subprocess.run([orchestrator, "migrate"], env=env, cwd=tmp_path, check=True, capture_output=True)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen([orchestrator, "worker"], env=env, cwd=tmp_path, stderr=out, stdout=out)
        try:
            deadline = time.monotonic() + 30
            while "worker.started" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.1)
            assert f"metrics=http://{address}/metrics" in log.read_text()
            url = f"http://{address}/metrics"
            samples = until_metrics(url, lambda got: bool(of_queue(got, "temporal_num_pollers", task_queue)))
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, log.read_text()
    assert of_queue(samples, "temporal_worker_start_total", task_queue) == [1]


def test_the_grafana_dashboard_reads_only_metrics_we_export(web: Flask) -> None:
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana" / "orchestrator.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b(orchestrator_[a-z_]+)", expr)}
    text = web.test_client().get("/metrics", headers=SCRAPE).text
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    exposed = {family + suffix for family in families for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    assert used and used <= exposed, used - exposed
    unshown = {f for f in families if not any(name.startswith(f.removesuffix("_total")) for name in used)}
    assert unshown == set(), unshown  # and every family we export has a panel
