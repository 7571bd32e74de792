"""The Temporal worker process: registers workflows and activities, and shuts down gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from app.cli.process_exit import exit_now
from app.config import WORKER_CACHE_DEFAULT, ConfigError, Settings
from app.config.agents import plaintext_calls, refuse_plaintext
from app.config.logs import configure_logging
from app.store.db import engine_for, make_session_factory
from app.temporal.gateway import TemporalUnavailable, connect
from app.temporal.search_attributes import how_to_register, missing_search_attributes
from app.worker.capacity import ACTIVITY_THREADS
from app.worker.registry import activity_functions, start_job_system, workflow_classes
from app.worker.stopping import StopAbandoned, running
from workflows.policies import jira_budget_problem

log = logging.getLogger(__name__)

HEARTBEAT_THROTTLE = timedelta(seconds=2)
# A stop waits this long past the shutdown grace (activities cancelled at its end need a moment to say so); past
# that it is abandoned and the process exits STOP_ABANDONED_EXIT (70, sysexits' EX_SOFTWARE) for its supervisor to
# restart it (app/worker/stopping.py says why a stop might never return).
STOP_MARGIN = timedelta(seconds=30)
STOP_ABANDONED_EXIT = 70


@functools.cache
def metrics_runtime(address: str) -> Runtime:
    """The process's Temporal runtime that serves the SDK's metrics on http://<address>/metrics.

    Made once per process (cached): each runtime has its own threads and binds the address, and a client keeps the
    runtime it connected with. Names and units are the SDK's defaults (histograms in milliseconds), the ones
    Temporal's SDK metrics reference and its Grafana dashboard for Core-based SDKs use.
    """
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except ValueError as err:  # the address is taken, or not an ip:port
        raise ConfigError(f"WORKER_METRICS_ADDRESS: cannot serve metrics on {address}: {err}") from None


def worker_runtime(settings: Settings) -> Runtime | None:
    """The runtime the worker's client connects with: one serving metrics when WORKER_METRICS_ADDRESS is set."""
    address = settings.worker_metrics_address
    return metrics_runtime(address) if address else None


async def connect_until_ready(settings: Settings, stop: asyncio.Event) -> Client | None:
    """Connect to Temporal, retrying while it is not up yet (as under `make run`); None if stopped first."""
    # Before the first connection attempt, so the metrics endpoint is up (and a taken address fails) at once.
    runtime = worker_runtime(settings)
    delay = 0.5
    while not stop.is_set():
        try:
            return await connect(settings.temporal, runtime=runtime)
        except TemporalUnavailable as err:
            log.warning("worker.temporal-unavailable %s; retrying in %.1fs", err, delay)
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            delay = min(delay * 2, 10.0)
    return None


# The dataclasses every workflow exchanges (the bottom floor, docs/architecture.md): plain definitions with no state
# and no I/O, so one import serves every workflow instance. The sandbox would otherwise import them again for each
# new instance (a run starts about 16), which the profile of a full run showed as the worker's largest cost.
SHARED_TYPES = (
    "workflows.messages",
    "workflows.job_types",
    "workflows.queue_types",
    "workflows.state",
    "workflows.ids",
    "workflows.results",
)


def build_worker(
    client: Client,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    executor: ThreadPoolExecutor,
    shutdown_grace: timedelta,
    max_cached_workflows: int = WORKER_CACHE_DEFAULT,
) -> Worker:
    """A worker whose in-flight activities get `shutdown_grace` to finish when it is asked to stop, keeping at most
    `max_cached_workflows` runs in memory between their tasks."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        graceful_shutdown_timeout=shutdown_grace,
        max_cached_workflows=max_cached_workflows,
        # Cancellation reaches an activity only through a heartbeat answer: keep that delay to seconds.
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*SHARED_TYPES)
        ),
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then drain: activities still running after the grace period are retried elsewhere."""
    client = await connect_until_ready(settings, stop)
    if client is None:
        return
    missing = await missing_search_attributes(client)
    if missing:  # every workflow task that sets one would fail, and be retried forever: better not to start
        namespace = settings.temporal.namespace
        raise SystemExit(
            f"worker.search-attributes-missing namespace {namespace} lacks {', '.join(missing)}; "
            f"{how_to_register(namespace, missing)}"
        )
    executor = ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity")
    worker = build_worker(
        client,
        settings.temporal.task_queue,
        workflow_classes(),
        activity_functions(settings, client),
        executor,
        settings.worker_shutdown_grace,
        settings.worker_max_cached_workflows,
    )
    finished = False
    try:
        async with running(worker, stop_limit(settings.worker_shutdown_grace)):
            log.info(
                "worker.started task_queue=%s namespace=%s cached_workflows=%d metrics=%s",
                settings.temporal.task_queue,
                settings.temporal.namespace,
                settings.worker_max_cached_workflows,
                f"http://{settings.worker_metrics_address}/metrics" if settings.worker_metrics_address else "off",
            )
            await _start_job_system(client, settings)
            await stop.wait()
            log.info("worker.stopping grace=%ss", settings.worker_shutdown_grace.total_seconds())
        finished = True
    finally:
        # An abandoned stop may have left an activity thread running: the process exits without waiting for it.
        executor.shutdown(wait=finished)
    log.info("worker.stopped")


def stop_limit(grace: timedelta) -> float:
    """How long a stop may take: the grace in-flight activities get, then STOP_MARGIN for them to be cancelled."""
    return (grace + STOP_MARGIN).total_seconds()


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """run_worker; a stop abandoned past its limit is logged with what it waited on and ends the process with
    STOP_ABANDONED_EXIT at once (the interpreter's own exit would wait on the same pending tasks)."""
    try:
        await run_worker(settings, stop)
    except StopAbandoned as abandoned:
        log.error("worker.stop-abandoned exit=%d %s", STOP_ABANDONED_EXIT, abandoned)
        exit_now(STOP_ABANDONED_EXIT)


async def _start_job_system(client: Client, settings: Settings) -> None:
    # The worker still runs the workflows without its schedules; the log says what to fix.
    engine = engine_for(settings)
    try:
        await start_job_system(client, settings, make_session_factory(engine))
    except (RPCError, SQLAlchemyError, ValueError) as err:
        log.error("worker.schedules-not-set-up %s: %s", type(err).__name__, err)
    finally:
        engine.dispose()


def main(settings: Settings) -> None:
    """Entry point of `orchestrator worker`: SIGTERM and SIGINT start a graceful shutdown."""
    problem = jira_budget_problem(settings.jira.retry_budget, settings.jira.timeout)
    if problem is not None:  # every Jira activity would time out in the middle of its retries
        raise ConfigError(problem)
    refuse_plaintext(settings.agents, plaintext_calls(settings.agents))  # before anything connects anywhere
    configure_logging(settings.log_level)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    asyncio.run(_main())
