"""The worker process: in-flight activities finish within the grace period on shutdown; SIGTERM exits cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    # The worker's registry imports every activity and the jira package, which the sandbox must not re-import.
    from app.config import WORKER_CACHE_DEFAULT, ConfigError, Settings
    from app.worker.main import STOP_ABANDONED_EXIT, build_worker, stop_limit
    from app.worker.stopping import StopAbandoned, running

started = threading.Event()
release = threading.Event()


@activity.defn
def slow_step(name: str) -> str:
    """Blocks until the test lets it go (simulates an agent call in flight at shutdown)."""
    started.set()
    release.wait(20)
    return f"done {name}"


@activity.defn
async def stubborn_step(name: str) -> str:
    """Ignores cancellation until the test lets it go (an activity no shutdown can stop)."""
    started.set()
    while not release.is_set():
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            continue
    return f"done {name}"


@workflow.defn
class StubbornWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(stubborn_step, name, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class OneStepWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(slow_step, name, start_to_close_timeout=timedelta(seconds=30))


async def test_shutdown_lets_in_flight_activities_finish(temporal_env: WorkflowEnvironment, task_queue: str) -> None:
    started.clear()
    release.clear()
    client = temporal_env.client
    with ThreadPoolExecutor(32) as pool:
        worker = build_worker(client, task_queue, [OneStepWorkflow], [slow_step], pool, timedelta(seconds=15))
        runner = asyncio.create_task(worker.run())
        handle = await client.start_workflow(OneStepWorkflow.run, "a", id=f"wf-{task_queue}", task_queue=task_queue)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 20)
        shutdown = asyncio.create_task(worker.shutdown())  # what SIGTERM triggers
        await asyncio.sleep(0.2)
        assert not shutdown.done(), "shutdown must wait for the in-flight activity"
        release.set()
        await asyncio.wait_for(shutdown, 20)
        await runner
    # The activity's result was reported before the worker stopped: the workflow can finish on any worker.
    with ThreadPoolExecutor(32) as pool:
        async with build_worker(client, task_queue, [OneStepWorkflow], [slow_step], pool, timedelta(seconds=1)):
            assert await handle.result() == "done a"


async def test_a_stop_that_outlasts_its_limit_is_abandoned_saying_what_it_waits_on(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    # An activity that ignores cancellation: the SDK's stop waits for it past any grace.
    started.clear()
    release.clear()
    client = temporal_env.client
    with ThreadPoolExecutor(32) as pool:
        worker = build_worker(client, task_queue, [StubbornWorkflow], [stubborn_step], pool, timedelta(seconds=0.2))
        marks: dict[str, float] = {}
        with pytest.raises(StopAbandoned) as abandoned:
            await run_until_the_activity_started(worker, task_queue, marks)
        assert time.monotonic() - marks["stop"] >= 1.0  # the stop was given its whole limit
        assert str(abandoned.value).startswith("worker stop abandoned after 1 s; pending:")
        assert "Worker.run" in abandoned.value.pending, abandoned.value.pending  # the run that never returned
        release.set()  # the activity ends, and with it the stop that was left
        assert abandoned.value.stopping is not None
        await asyncio.wait_for(abandoned.value.stopping, 20)


async def run_until_the_activity_started(worker: Worker, task_queue: str, marks: dict[str, float]) -> None:
    """Run the worker with a stop limit of 1 s until stubborn_step has started, then stop it (at `marks["stop"]`)."""
    async with running(worker, stop_limit=1.0):
        await worker.client.start_workflow(StubbornWorkflow.run, "a", id=f"wf-{task_queue}", task_queue=task_queue)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 20)
        marks["stop"] = time.monotonic()


def test_the_stop_limit_is_the_grace_and_a_margin() -> None:
    assert stop_limit(timedelta(seconds=30)) == 60.0
    assert stop_limit(timedelta(0)) == 30.0


def test_an_abandoned_stop_ends_the_worker_process_non_zero_saying_why(tmp_path: Path) -> None:
    # The worker process's answer to a stop that never returns (a stand-in for run_worker raises what it would).
    script = (
        "import asyncio\n"
        "import app.worker.main as main\n"
        "from app.worker.stopping import StopAbandoned\n"
        "async def hung(settings, stop):\n"
        "    raise StopAbandoned(60.0, 'Task-7: <coroutine object Worker.run>')\n"
        "main.run_worker = hung\n"
        "asyncio.run(main.serve(None, asyncio.Event()))\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == STOP_ABANDONED_EXIT == 70, done
    assert "worker.stop-abandoned exit=70 worker stop abandoned after 60 s; pending:" in done.stderr, done.stderr
    assert "Worker.run" in done.stderr and "not reached" not in done.stdout


def test_sigterm_stops_the_worker_process(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    env.update(
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE=f"sigterm-{tmp_path.name}",
        ORCHESTRATOR_VAR_DIR=str(tmp_path),
        WORKER_SHUTDOWN_GRACE="5s",
    )
    subprocess.run([str(Path(sys.executable).parent / "orchestrator"), "migrate"], env=env, cwd=tmp_path, check=True)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "orchestrator"), "worker"], env=env, cwd=tmp_path, stderr=out, stdout=out
        )
        deadline = time.monotonic() + 30
        while "worker.started" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    text = log.read_text()
    assert code == 0, text
    assert "worker.stopping" in text and "worker.stopped" in text, text
    assert "Traceback" not in text, text


@workflow.defn
class ParkedWorkflow:
    """Waits at a gate until approved (a run parked for days, in miniature)."""

    def __init__(self) -> None:
        self.approved = False

    @workflow.run
    async def run(self) -> str:
        replayed = workflow.unsafe.is_replaying()  # started again from its history: it had been evicted
        await workflow.wait_condition(lambda: self.approved)
        return "replayed" if replayed else "cached"

    @workflow.signal
    def approve(self) -> None:
        self.approved = True


async def test_runs_pushed_out_of_a_small_cache_resume_when_approved(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    # WORKER_MAX_CACHED_WORKFLOWS bounds the worker's memory: parked runs beyond it are evicted and replayed later.
    client = temporal_env.client
    with ThreadPoolExecutor(32) as pool:
        async with build_worker(
            client, task_queue, [ParkedWorkflow], [slow_step], pool, timedelta(seconds=1), max_cached_workflows=1
        ):
            handles = []
            for n in range(3):
                handle = await client.start_workflow(
                    ParkedWorkflow.run, id=f"parked-{n}-{task_queue}", task_queue=task_queue
                )
                for _ in range(400):  # until it is parked: its first task is done (≤ 20 s)
                    if (await handle.describe()).history_length >= 4:
                        break
                    await asyncio.sleep(0.05)
                handles.append(handle)
            for handle in handles:
                await handle.signal(ParkedWorkflow.approve)
            results = [await handle.result() for handle in handles]
    assert results[:2] == ["replayed", "replayed"]  # the first two were pushed out by the next one to start


def test_the_cache_size_is_a_setting() -> None:
    base = {"DATABASE_URL": "sqlite://"}
    assert Settings.from_env(environ=base, env_file=None).worker_max_cached_workflows == WORKER_CACHE_DEFAULT == 150
    chosen = Settings.from_env(environ={**base, "WORKER_MAX_CACHED_WORKFLOWS": "50"}, env_file=None)
    assert chosen.worker_max_cached_workflows == 50
    with pytest.raises(ConfigError, match="WORKER_MAX_CACHED_WORKFLOWS"):
        Settings.from_env(environ={**base, "WORKER_MAX_CACHED_WORKFLOWS": "-1"}, env_file=None)
