"""Runs parked at a gate: what 1,000 waiting runs cost the worker and Temporal, and how fast 100 approvals land.

On the embedded stack (bench/full_run.py's: the e2e harness, the instant agent profile, SQLite) with a file-backed
Temporal dev server, it labels RUNS issues (half in each sandbox project) in waves of WAVE, each parked at its
EXPLORE gate before the next (runs arrive over time: with all 1,000 started at once, more runs are active than the
worker's cache holds, and every workflow task replays its run's history). Then it reads the worker's resident memory
(the SDK's sticky workflow cache keeps each parked run's state in memory up to WORKER_MAX_CACHED_WORKFLOWS: 150 by
default, `--cache` here; the SDK's own default is 1,000) and the size of the Temporal database, and approves APPROVE
runs at once (a comment each, from 32 threads): approve → the PLAN phase started (its job created and queued), and →
that job running on the agent (the seed's queue runs one job per project at a time, so this one includes the wait
behind the other approved runs' jobs), p50/p99.

    python bench/parked.py [--runs 1000] [--approve 100] [--wave 100] [--cache 150] [--webhook-threads 8]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the e2e tests' harness starts the processes

from sqlalchemy import func, select  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from app.cli.ops import temporal_binary  # noqa: E402
from app.cli.process_exit import run_and_exit  # noqa: E402
from app.config import WORKER_CACHE_DEFAULT  # noqa: E402
from app.sandbox.people import SandboxPerson  # noqa: E402
from app.store.models import AgentJob  # noqa: E402
from bench.full_run import PROFILE, p  # noqa: E402
from tests.chaos.issues import TRIGGER  # noqa: E402
from tests.e2e.harness import Site, close_site, open_site, start_processes  # noqa: E402
from workflows import search  # noqa: E402
from workflows.ids import workflow_id_for  # noqa: E402


def rss_mb(pid: int) -> float:
    """A process's resident memory (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gated(site: Site) -> int:
    """Runs whose EXPLORE job has finished (so the run waits at its gate, or is past it)."""
    with site.db() as session:
        query = select(func.count()).where(AgentJob.phase == "EXPLORE", AgentJob.status == "completed")
        return int(session.scalar(query) or 0)


def plan_jobs(site: Site, keys: list[str]) -> dict[str, tuple[float, float | None]]:
    """When each issue's PLAN job was created (the run started the phase and queued it) and started on the agent
    (after the jobs ahead of it in its project's queue), as epoch seconds."""
    with site.db() as session:
        query = select(AgentJob.issue_key, AgentJob.created_at, AgentJob.started_at)
        rows = session.execute(query.where(AgentJob.phase == "PLAN", AgentJob.issue_key.in_(keys)))
        return {key: (created.timestamp(), started.timestamp() if started else None) for key, created, started in rows}


# Where an approval's time goes, read from each approved run's history (event times are the Temporal server's).
STAGES = (
    "comment → signal recorded (sandbox delivery, web, Temporal)",
    "→ the worker takes it up (workflow task started)",
    "→ the approver checked (check_approver done)",
    "→ the PLAN job queued (queue_job done)",
)


def at(event: Any) -> float:
    """An event's time, as epoch seconds."""
    return float(event.event_time.ToDatetime(tzinfo=UTC).timestamp())


def completed(events: list[Any], name: str) -> float | None:
    """When the first activity `name` among `events` completed."""
    scheduled = {e.event_id for e in events if e.activity_task_scheduled_event_attributes.activity_type.name == name}
    done = (at(e) for e in events if e.activity_task_completed_event_attributes.scheduled_event_id in scheduled)
    return next(done, None)


async def stages(site: Site, asked: dict[str, float]) -> list[list[float]]:
    """Each approval's time in each of STAGES, in seconds (runs whose history lacks a step are left out)."""
    found: list[list[float]] = [[] for _ in STAGES]
    for key, asked_at in asked.items():
        events = list((await site.client.get_workflow_handle(workflow_id_for(key)).fetch_history()).events)
        signal = next(
            (
                i
                for i, e in enumerate(events)
                if e.workflow_execution_signaled_event_attributes.signal_name == "approve"
            ),
            None,
        )
        if signal is None:
            continue
        after = events[signal:]
        task = next((at(e) for e in after if e.HasField("workflow_task_started_event_attributes")), None)
        checked, queued = completed(after, "check_approver"), completed(after, "queue_job")
        if task is None or checked is None or queued is None:
            continue
        points = [asked_at, at(events[signal]), task, checked, queued]
        for index in range(len(STAGES)):
            found[index].append(points[index + 1] - points[index])
    return found


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until `check` holds; give up (exit) after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {seconds:.0f} s")
        await asyncio.sleep(0.5)


async def main() -> int:
    """Park the runs, measure, approve a hundred at once, measure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--approve", type=int, default=100)
    parser.add_argument(
        "--cache", type=int, default=WORKER_CACHE_DEFAULT, help="the worker's WORKER_MAX_CACHED_WORKFLOWS"
    )
    parser.add_argument(
        "--wave",
        type=int,
        default=100,
        help="label this many issues, wait until they are parked, then the next wave (runs arrive over time; "
        "all at once, more runs are active than the worker's cache holds and every task replays)",
    )
    parser.add_argument(
        "--webhook-threads", type=int, default=8, help="SANDBOX_WEBHOOK_THREADS (1: one delivery at a time, in order)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        database = tmp / "temporal.db"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(temporal_binary()),
            search_attributes=list(search.ALL),
            dev_server_log_level="error",
            dev_server_extra_args=["--db-filename", str(database)],
            ui=False,
        )
        (tmp / "site").mkdir()
        settings = {
            "ORCHESTRATOR_AUTO_PROCEED": "false",
            "AGENT_PROFILE": str(PROFILE),
            "LOG_LEVEL": "WARNING",
            "WORKER_MAX_CACHED_WORKFLOWS": str(args.cache),
            # Jira Cloud sends webhooks concurrently; one at a time, the sandbox's queue of them was most of an
            # approval's time when 100 came at once (the breakdown below shows it).
            "SANDBOX_WEBHOOK_THREADS": str(args.webhook_threads),
        }
        site = await open_site(env, tmp / "site", agents=1, **settings)
        for name in ("FORGE", "FORGE_URL", "FORGE_REPOSITORY", "FORGE_TOKEN"):
            site.stack.env.pop(name, None)
        try:
            await start_processes(site, [0])
            reporter = SandboxPerson(site.stack.jira_url, "reporter")
            started = time.monotonic()
            keys: list[str] = []
            for n in range(args.runs):
                key = reporter.create(f"Parked run {n + 1}", project=("DEMO", "OPS")[n % 2])
                reporter.label(key, TRIGGER)
                keys.append(key)
                if len(keys) % max(args.wave, 1) == 0 or len(keys) == args.runs:
                    await until(lambda: gated(site) >= len(keys), 3600, f"the first {len(keys)} runs at their gate")
            parked_after = time.monotonic() - started
            await asyncio.sleep(5)  # the last gate comments and status edits land
            worker = site.stack.procs["worker"].pid
            parked_rss, db_mb = rss_mb(worker), database.stat().st_size / 1e6
            reviewer = SandboxPerson(site.stack.jira_url, "reviewer")
            chosen = keys[: args.approve]
            asked: dict[str, float] = {}

            def approve(key: str) -> None:
                asked[key] = time.time()
                reviewer.comment(key, "/approve")

            with ThreadPoolExecutor(32) as pool:
                list(pool.map(approve, chosen))
            started = lambda: [s for _, s in plan_jobs(site, chosen).values() if s is not None]  # noqa: E731
            await until(lambda: len(started()) == len(chosen), 1200, "the approved runs' PLAN jobs")
            jobs = plan_jobs(site, chosen)
            queued = [created - asked[key] for key, (created, _) in jobs.items()]
            waits = [s - asked[key] for key, (_, s) in jobs.items() if s is not None]
            after_rss = rss_mb(worker)
            breakdown = await stages(site, asked)
        finally:
            await close_site(site)
            await env.shutdown()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    print(f"{args.runs} runs parked at their EXPLORE gate in {parked_after:.0f} s")
    print(f"worker RSS {parked_rss:.0f} MB with them parked (sticky cache: WORKER_MAX_CACHED_WORKFLOWS={args.cache}; "
          f"SANDBOX_WEBHOOK_THREADS={args.webhook_threads}), "
          f"{after_rss:.0f} MB after the approvals")  # fmt: skip
    print(f"Temporal database (SQLite file) {db_mb:.1f} MB")
    print(f"{len(chosen)} approved at once: approve → the PLAN phase started (its job queued) "
          f"p50 {p(queued, 0.5):.2f} s, p99 {p(queued, 0.99):.2f} s")  # fmt: skip
    print(f"  → the PLAN job running on the agent (after the jobs ahead of it in its project's queue, one at a time) "
          f"p50 {p(waits, 0.5):.2f} s, p99 {p(waits, 0.99):.2f} s")  # fmt: skip
    print(f"where an approval's time goes (n={len(breakdown[0])}), p50 / p99:")
    for stage, values in zip(STAGES, breakdown, strict=True):
        print(f"  {stage}: {p(values, 0.5):.2f} / {p(values, 0.99):.2f} s")
    return 0 if len(waits) == len(chosen) else 1


if __name__ == "__main__":
    run_and_exit(lambda: asyncio.run(main()))  # no interpreter teardown: see app/cli/process_exit.py
