"""Runs parked at a gate: what 1,000 waiting runs cost the worker and Temporal, and how fast 100 approvals land.

On the embedded stack (bench/full_run.py's: the e2e harness, the instant agent profile, SQLite) with a file-backed
Temporal dev server, it labels RUNS issues (half in each sandbox project) and waits until every run waits at its
EXPLORE gate. Then it reads the worker's resident memory (the SDK's sticky workflow cache keeps each parked run's
state in memory up to `max_cached_workflows`, 1,000 by default and not changed by our worker) and the size of the
Temporal database, and approves APPROVE runs at once (a comment each, from 32 threads): approve → the PLAN phase
started (its job created and queued), and → that job running on the agent (the seed's queue runs one job per
project at a time, so this one includes the wait behind the other approved runs' jobs), p50/p99.

    python bench/parked.py [--runs 1000] [--approve 100]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the e2e tests' harness starts the processes

from sqlalchemy import func, select  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from app.cli.ops import temporal_binary  # noqa: E402
from app.sandbox.people import SandboxPerson  # noqa: E402
from app.store.models import AgentJob  # noqa: E402
from bench.full_run import PROFILE, p  # noqa: E402
from tests.chaos.issues import TRIGGER  # noqa: E402
from tests.e2e.harness import Site, close_site, open_site, start_processes  # noqa: E402
from workflows import search  # noqa: E402


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
        settings = {"ORCHESTRATOR_AUTO_PROCEED": "false", "AGENT_PROFILE": str(PROFILE), "LOG_LEVEL": "WARNING"}
        site = await open_site(env, tmp / "site", agents=1, **settings)
        for name in ("FORGE", "FORGE_URL", "FORGE_REPOSITORY", "FORGE_TOKEN"):
            site.stack.env.pop(name, None)
        try:
            await start_processes(site, [0])
            reporter = SandboxPerson(site.stack.jira_url, "reporter")
            started = time.monotonic()
            keys = []
            for n in range(args.runs):
                key = reporter.create(f"Parked run {n + 1}", project=("DEMO", "OPS")[n % 2])
                reporter.label(key, TRIGGER)
                keys.append(key)
            await until(lambda: gated(site) >= args.runs, 3600, "every run at its gate")
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
        finally:
            await close_site(site)
            await env.shutdown()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    print(f"{args.runs} runs parked at their EXPLORE gate in {parked_after:.0f} s")
    print(f"worker RSS {parked_rss:.0f} MB with them parked (sticky cache: SDK default max_cached_workflows=1000), "
          f"{after_rss:.0f} MB after the approvals")  # fmt: skip
    print(f"Temporal database (SQLite file) {db_mb:.1f} MB")
    print(f"{len(chosen)} approved at once: approve → the PLAN phase started (its job queued) "
          f"p50 {p(queued, 0.5):.2f} s, p99 {p(queued, 0.99):.2f} s")  # fmt: skip
    print(f"  → the PLAN job running on the agent (after the jobs ahead of it in its project's queue, one at a time) "
          f"p50 {p(waits, 0.5):.2f} s, p99 {p(waits, 0.99):.2f} s")  # fmt: skip
    return 0 if len(waits) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
