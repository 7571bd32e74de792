"""Scale-out: the full-run load on PostgreSQL with 1 worker + 1 web + 1 agent, then 2 + 2 + 2, and exactly-once.

Each layout gets a stack of its own through the e2e harness (bench/full_run.py's: the sandbox Jira, the real web,
worker and agent processes, the instant agent profile bench/instant.toml, auto-proceeding runs) on one Temporal dev
server (a namespace each) and PostgreSQL (a schema each in the `test` database, as tests/conftest.py makes per test,
dropped afterwards). Extra workers poll the same task queue; extra agents are processes with workspaces of their
own; the second web process listens on its own WEB_PORT. The sandbox delivers webhooks to one URL, so the bench puts
a round-robin forwarder in front of the web processes (in both layouts, so only the process count differs).

RUNS issues, alternately in the sandbox's two projects, are labelled at once; the wall time runs from the first
label to the bot's last write to any of them. Runs per second of the two layouts give the scale-out ratio.
Where the time goes: CPU seconds per process kind over the load (/proc; PostgreSQL machine-wide), the machine's
busy cores, and each agent's share of the wall with a job in progress.

Exactly-once, across all runs of both layouts (a duplicate makes the bench exit 1): per issue one status comment,
one summary, no bot comment twice, at most one remote link (and at most one link POST), each status transition once
(changelog) and one transition POST per move; one orchestration row and one OrchestrationWorkflow execution; one
agent_jobs row per (issue, phase, attempt), never recovered, one JobExecutionWorkflow per job, each agent command
in one agent's journal only; no pull request posted twice for a branch (the instant profile pushes nothing: none).

    python bench/scale_out.py [--runs 12] [--quick] [--json] [--reverse]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the e2e tests' harness starts the processes

from sqlalchemy import func, select  # noqa: E402
from temporalio.api.enums.v1 import TaskQueueType  # noqa: E402
from temporalio.api.taskqueue.v1 import TaskQueue  # noqa: E402
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from app.cli.ops import temporal_binary  # noqa: E402
from app.cli.process_exit import run_and_exit  # noqa: E402
from app.sandbox.people import SandboxPerson  # noqa: E402
from app.store.models import AgentJob, Orchestration  # noqa: E402
from bench.full_run import PROFILE  # noqa: E402
from tests.chaos.issues import TRIGGER, bot_writes, finished, now, outcome, requests_since  # noqa: E402
from tests.conftest import POSTGRES_ADMIN_URL, free_port, postgres_problem, postgres_schema_url  # noqa: E402
from tests.e2e.harness import Site, close_site, eventually, listening, open_site, start_processes  # noqa: E402
from workflows import search  # noqa: E402
from workflows.queue_types import job_workflow_id  # noqa: E402

PROJECTS = ("DEMO", "OPS")  # every project the sandbox has: its job queue runs one job per project at a time
FORGE_ENV = ("FORGE", "FORGE_URL", "FORGE_REPOSITORY", "FORGE_TOKEN")  # the instant profile pushes nothing
TICK = os.sysconf("SC_CLK_TCK")
LAYOUTS = ((1, 1, 1), (2, 2, 2))  # workers, web processes, agents
HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


@dataclass(frozen=True)
class Layout:
    """How many workers, web processes and agents run."""

    workers: int
    webs: int
    agents: int

    @property
    def name(self) -> str:
        """`workers+webs+agents`."""
        return f"{self.workers}+{self.webs}+{self.agents}"


@dataclass
class Result:
    """One layout's load: its figures, what the checks counted and every duplicate effect found."""

    layout: Layout
    runs: int
    wall_s: float = 0.0
    run_wall_p50_s: float = 0.0
    load_before: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    busy_cores: float = 0.0
    other_cores: float = 0.0  # the machine's busy cores that were not the stack's, the bench's or PostgreSQL's
    agent_busy: dict[str, float] = field(default_factory=dict)
    jobs_in_parallel: int = 0
    queue_wait_p50_s: float = 0.0
    job_p50_s: float = 0.0
    deliveries: list[int] = field(default_factory=list)
    workflows: Counter[str] = field(default_factory=Counter)  # started during the load, by type (schedules' too)
    counted: Counter[str] = field(default_factory=Counter)
    duplicates: list[str] = field(default_factory=list)

    @property
    def runs_per_s(self) -> float:
        """Runs finished per second of wall time."""
        return self.runs / self.wall_s


class Forwarder:
    """Passes each webhook delivery to the next web process in turn (the sandbox sends to one URL)."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.sent = [0] * len(targets)
        self._turn = count()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/jira"
        threading.Thread(target=self.server.serve_forever, name="forwarder", daemon=True).start()

    def next_target(self) -> str:
        """The web process whose turn it is."""
        with self._lock:
            index = next(self._turn) % len(self.targets)
            self.sent[index] += 1
        return self.targets[index]

    def close(self) -> None:
        """Stop forwarding."""
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the sandbox keeps its connection open, as Jira's sender does

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                request = urllib.request.Request(forwarder.next_target(), body, headers, method="POST")  # noqa: S310
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback webs
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as err:
                    status, payload = err.code, err.read()
                except OSError:
                    status, payload = 502, b"web process unreachable"  # the sandbox retries a 5xx, as Jira does
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid → (parent pid, command name, CPU seconds with its reaped children's)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):  # gone meanwhile
                raw = (entry / "stat").read_text()
                rest = raw[raw.rindex(")") + 2 :].split()  # after the name: state, ppid, ... utime at [11]
                cpu = sum(int(ticks) for ticks in rest[11:15]) / TICK  # utime, stime, cutime, cstime
                table[int(entry.name)] = (int(rest[1]), raw[raw.index("(") + 1 : raw.rindex(")")], cpu)
    return table


def cpu_by_kind(site: Site) -> dict[str, float]:
    """CPU seconds so far of each kind of process (a process with its children: gunicorn's workers, say)."""
    table = processes()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _, _) in table.items():
        children[parent].append(pid)

    def tree(root: int) -> float:
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            total += table[pid][2] if pid in table else 0.0
            todo += children[pid]
        return total

    kinds: dict[str, float] = defaultdict(float)
    for name, proc in site.stack.procs.items():
        kinds[name.split("-")[0]] += tree(proc.pid)
    for pid in children[os.getpid()]:  # the dev server is the bench's own child
        if table[pid][1] == "temporal":
            kinds["temporal"] += tree(pid)
    # Machine-wide: the postmaster's figure includes every ended backend's, other sessions' too.
    kinds["postgres"] = sum(cpu for _, name, cpu in table.values() if name.startswith("postgres"))
    kinds["bench"] = time.process_time()  # the driver and the forwarder
    return kinds


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; /proc/stat less idle and iowait)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK


async def worker_pollers(site: Site) -> int:
    """How many worker processes poll the stack's workflow task queue."""
    queue = TaskQueue(name=site.stack.env["TEMPORAL_TASK_QUEUE"])
    request = DescribeTaskQueueRequest(
        namespace=site.client.namespace, task_queue=queue, task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    )
    answer = await site.client.workflow_service.describe_task_queue(request)
    return len({poller.identity for poller in answer.pollers})


async def open_layout(
    env: WorkflowEnvironment, folder: Path, layout: Layout, database_url: str
) -> tuple[Site, Forwarder]:
    """The layout's processes, started and ready, with the forwarder in front of its web processes."""
    settings = {"AGENT_PROFILE": str(PROFILE), "LOG_LEVEL": "WARNING", "ORCHESTRATOR_AUTO_PROCEED": "true"}
    site = await open_site(env, folder, agents=layout.agents, database_url=database_url, **settings)
    stack = site.stack
    for name in FORGE_ENV:
        stack.env.pop(name, None)
    ports = [int(stack.env["WEB_PORT"])] + [free_port() for _ in range(layout.webs - 1)]
    forwarder = Forwarder([f"http://127.0.0.1:{port}/webhooks/jira" for port in ports])
    stack.env["SANDBOX_WEBHOOK_URL"] = forwarder.url
    await start_processes(site, list(range(layout.agents)))
    for n, port in enumerate(ports[1:], start=2):
        stack.start(f"web-{n}", "web", env={"WEB_PORT": str(port)})
        await eventually(stack, partial(listening, f"127.0.0.1:{port}"), f"web process {n}")
    for n in range(2, layout.workers + 1):
        stack.start(f"worker-{n}", "worker")

    async def every_worker_polls() -> bool:
        return await worker_pollers(site) >= layout.workers

    await eventually(stack, every_worker_polls, "every worker polling its task queue", 60)
    return site, forwarder


def label_all(site: Site, runs: int) -> tuple[list[str], float]:
    """Create RUNS issues (alternately in each project), then label them all at once; their keys and the start."""
    reporter = SandboxPerson(site.stack.jira_url, "reporter")
    keys = [reporter.create(f"Scale-out run {n + 1}", project=PROJECTS[n % len(PROJECTS)]) for n in range(runs)]
    reviewer = SandboxPerson(site.stack.jira_url, "reviewer")
    started = now()
    for key in keys:
        reviewer.label(key, TRIGGER)
    return keys, started


def ended(site: Site, keys: list[str]) -> tuple[int, int]:
    """How many of the runs have completed, and how many ended otherwise (failed, cancelled)."""
    with site.db() as session:
        rows = session.execute(
            select(Orchestration.status, func.count()).where(Orchestration.issue_key.in_(keys)).group_by("status")
        )
        by_status = {status: n for status, n in rows}
    return by_status.get("completed", 0), by_status.get("failed", 0) + by_status.get("cancelled", 0)


async def wait_for_runs(site: Site, keys: list[str], timeout: float) -> None:
    """Until every run has completed and said so on its issue (Done, summary, status comment); exit otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        completed, failed = ended(site, keys)
        if failed:
            raise SystemExit(f"{failed} run(s) failed or were cancelled\n{site.stack.logs()}")
        if completed == len(keys) and all(finished(site.stack, key) for key in keys):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(keys) - completed} run(s) unfinished after {timeout:.0f} s\n{site.stack.logs()}")
        await asyncio.sleep(0.5)


def job_figures(site: Site, keys: list[str], wall: float, result: Result) -> None:
    """Each agent's share of the wall with a job in progress, the most jobs running at once, queue wait, job time."""
    with site.db() as session:
        query = select(AgentJob.agent_id, AgentJob.created_at, AgentJob.started_at, AgentJob.finished_at)
        rows = session.execute(query.where(AgentJob.issue_key.in_(keys))).all()
    spans = [(agent or "", c.timestamp(), s.timestamp(), f.timestamp()) for agent, c, s, f in rows if s and f]
    busy: dict[str, float] = defaultdict(float)
    for agent, _, started, done in spans:
        busy[f"agent-{site.stack.agent_addresses.index(agent)}"] += done - started
    result.agent_busy = {agent: round(seconds / wall, 2) for agent, seconds in sorted(busy.items())}
    running = 0
    for _, step in sorted([(s, 1) for _, _, s, _ in spans] + [(f, -1) for _, _, _, f in spans]):
        running += step  # at equal times an end (-1) sorts before a start: a handover is not two at once
        result.jobs_in_parallel = max(result.jobs_in_parallel, running)
    result.queue_wait_p50_s = statistics.median(s - c for _, c, s, _ in spans)
    result.job_p50_s = statistics.median(f - s for _, _, s, f in spans)
    result.counted["jobs"] = len(rows)


def issue_checks(site: Site, keys: list[str], writes: list[dict[str, Any]], result: Result) -> None:
    """What the issues show and what the bot sent: comments, links, transitions, pull requests, once each."""
    for key in keys:
        end = outcome(site.stack, key)
        posts = Counter(r["path"].rsplit("/", 1)[-1] for r in writes if r["issue"] == key and r["method"] == "POST")
        moved = sum(r["path"].endswith("/transitions") and r["status"] < 300 for r in writes if r["issue"] == key)
        result.counted.update(status_comments=end.status_comments, remote_links=end.links, transitions=len(end.moves))
        found = [
            f"{end.status_comments} status comments" if end.status_comments != 1 else "",
            f"{end.summaries} summaries" if end.summaries != 1 else "",
            f"{end.duplicate_comments} bot comments posted twice" if end.duplicate_comments else "",
            f"{end.links} remote links" if end.links > 1 else "",
            f"{posts['remotelink']} remote link POSTs" if posts["remotelink"] > 1 else "",
            f"transitions made twice: {end.moves}" if end.duplicate_moves else "",
            f"{moved} transition POSTs for {len(end.moves)} moves" if moved != len(end.moves) else "",
        ]
        result.duplicates += [f"{key}: {what}" for what in found if what]
    heads = Counter(post["head"] for post in site.stack.forge_posts())
    result.counted["pull_request_posts"] = sum(heads.values())
    result.duplicates += [f"pull request for {head} posted {n} times" for head, n in heads.items() if n > 1]


async def job_checks(site: Site, keys: list[str], layout: Layout, result: Result) -> None:
    """One run per issue, one row per (issue, phase, attempt), one job workflow per job, one agent per command."""
    with site.db() as session:
        runs = Counter(session.scalars(select(Orchestration.issue_key).where(Orchestration.issue_key.in_(keys))))
        jobs = list(session.execute(select(AgentJob).where(AgentJob.issue_key.in_(keys))).scalars())
    executions = Counter([w.id async for w in site.client.list_workflows('WorkflowType = "OrchestrationWorkflow"')])
    job_runs = Counter([w.id async for w in site.client.list_workflows('WorkflowType = "JobExecutionWorkflow"')])
    result.counted.update(orchestration_rows=runs.total(), job_workflows=job_runs.total())
    found = [f"{key}: {runs[key]} orchestration rows" for key in keys if runs[key] != 1]
    found += [f"{key}: {executions[f'orchestration-{key}']} orchestration executions" for key in keys
              if executions[f"orchestration-{key}"] != 1]  # fmt: skip
    slots = Counter((job.issue_key, job.phase, job.attempt) for job in jobs)
    found += [f"{key} {phase} attempt {attempt}: {n} job rows" for (key, phase, attempt), n in slots.items() if n > 1]
    for job in jobs:
        if job.status != "completed" or job.recoveries or job.started_at is None:
            found.append(f"job {job.id}: {job.status}, recovered {job.recoveries} times, started {job.started_at}")
        ids = [job_workflow_id(job.id, n) for n in range(job.recoveries + 1)]
        if sum(job_runs[i] for i in ids) != 1 or any(job_runs[i] > 1 for i in ids):
            found.append(f"job {job.id}: {[job_runs[i] for i in ids]} job workflow executions")
    journals: Counter[str] = Counter()
    for index in range(layout.agents):
        states = (site.stack.agent_workspaces(index) / ".jobs").glob("*/state.json")
        commands = [json.loads(state.read_text())["job_id"] for state in states]
        journals.update(commands)
        result.counted[f"agent-{index}_commands"] = len(commands)
    found += [f"agent command {command} in {n} agents' journals" for command, n in journals.items() if n > 1]
    result.duplicates += found


async def run_layout(env: WorkflowEnvironment, tmp: Path, layout: Layout, runs: int, admin_url: str) -> Result:
    """Start the layout on a schema of its own, put the load through it, measure and check; stop it."""
    folder = tmp / layout.name
    folder.mkdir()
    with postgres_schema_url(admin_url) as url:
        site, forwarder = await open_layout(env, folder, layout, url)
        try:
            await asyncio.sleep(3)  # start-up's own work (agent pings, the first schedule ticks) out of the way
            result = Result(layout, runs, load_before=os.getloadavg()[0])
            cpu, busy, clock = cpu_by_kind(site), busy_seconds(), time.monotonic()
            keys, started = label_all(site, runs)
            await wait_for_runs(site, keys, timeout=600)
            spent, span = cpu_by_kind(site), time.monotonic() - clock
            result.cpu_s = {kind: round(spent[kind] - cpu.get(kind, 0.0), 1) for kind in spent}
            result.busy_cores = round((busy_seconds() - busy) / span, 2)
            result.other_cores = round(result.busy_cores - sum(result.cpu_s.values()) / span, 2)
            await asyncio.sleep(3)  # the last status-comment edits land
            writes = [r for r in bot_writes(requests_since(site.stack, started)) if r["issue"] in keys]
            last = {key: max(r["at"] for r in writes if r["issue"] == key) for key in keys}
            result.wall_s = max(last.values()) - started
            result.run_wall_p50_s = statistics.median(at - started for at in last.values())
            result.deliveries = list(forwarder.sent)
            stamp = datetime.fromtimestamp(started, UTC).isoformat()
            result.workflows.update(
                [w.workflow_type async for w in site.client.list_workflows(f'StartTime > "{stamp}"')]
            )
            job_figures(site, keys, result.wall_s, result)
            issue_checks(site, keys, writes, result)
            await job_checks(site, keys, layout, result)
        finally:
            forwarder.close()
            await close_site(site)
    return result


def report(results: list[Result], as_json: bool) -> None:
    """The table (or one JSON line): each layout's figures, the scale-out ratio, the checks."""
    one, two = results
    ratio = two.runs_per_s / one.runs_per_s
    duplicates = [f"{r.layout.name}: {d}" for r in results for d in r.duplicates]
    if as_json:
        layouts = {
            r.layout.name: {
                "runs_per_s": round(r.runs_per_s, 4),
                "wall_s": round(r.wall_s, 2),
                "busy_cores": r.busy_cores,
                "other_cores": r.other_cores,
                "cpu_s_per_run": {k: round(v / r.runs, 2) for k, v in r.cpu_s.items()},
                "agent_busy": r.agent_busy,
                "jobs_in_parallel": r.jobs_in_parallel,
                "webhooks_per_web": r.deliveries,
                "workflows_per_run": {k: round(v / r.runs, 1) for k, v in r.workflows.items()},
            }
            for r in results
        }
        print(json.dumps({"runs": one.runs, "scale_out": round(ratio, 2), "duplicates": len(duplicates), **layouts}))
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; PostgreSQL; {one.runs} auto-proceeding runs per layout")  # fmt: skip
    print(f"\n{'layout':<7} {'load':>5} {'wall s':>7} {'runs/s':>7} {'run p50':>8} {'jobs':>5} {'∥ max':>6} "
          f"{'wait p50':>9} {'job p50':>8} {'busy cores (others)':>19}  agent busy / webhooks per web")  # fmt: skip
    for r in results:
        print(f"{r.layout.name:<7} {r.load_before:>5.2f} {r.wall_s:>7.1f} {r.runs_per_s:>7.3f} "
              f"{r.run_wall_p50_s:>7.1f}s {r.counted['jobs']:>5} {r.jobs_in_parallel:>6} "
              f"{r.queue_wait_p50_s:>8.2f}s {r.job_p50_s:>7.2f}s {r.busy_cores:>12.2f} ({r.other_cores:.2f})  "
              f"{r.agent_busy} / {r.deliveries}")  # fmt: skip
    print("\nCPU seconds per run, by process kind (postgres: machine-wide):")
    for r in results:
        print(f"  {r.layout.name}: " + ", ".join(f"{k} {v / r.runs:.2f}" for k, v in sorted(r.cpu_s.items())))
    print("workflows started per run, by type (the schedules' included):")
    for r in results:
        print(f"  {r.layout.name}: " + ", ".join(f"{k} {v / r.runs:.1f}" for k, v in r.workflows.most_common()))
    verdict = "met" if ratio >= 1.6 else "NOT met"
    print(f"\nscale-out (runs/s 2+2+2 / 1+1+1): {ratio:.2f}× (target ≥ 1.6×: {verdict})")
    for r in results:
        print(f"exactly-once, {r.layout.name}: " + ", ".join(f"{k} {v}" for k, v in sorted(r.counted.items())))
    print(f"duplicate effects: {len(duplicates)}")
    for line in duplicates:
        print(f"  {line}")


async def main() -> int:
    """Both layouts in turn on one dev server; the report; exit 1 on any duplicate effect."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="4 runs per layout")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    parser.add_argument("--reverse", action="store_true", help="2+2+2 first (both share one dev server)")
    args = parser.parse_args()
    runs = 4 if args.quick else args.runs
    problem = postgres_problem()
    if problem is not None:
        print(f"bench/scale_out.py skipped: PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {problem}")
        return 0
    # The processes run this checkout's code (a git worktree's, say), not what the venv's editable install names.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        search_attributes=list(search.ALL),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            results = [
                await run_layout(env, Path(folder), layout, runs, POSTGRES_ADMIN_URL)
                for layout in [Layout(*n) for n in LAYOUTS][:: -1 if args.reverse else 1]
            ]
    finally:
        await env.shutdown()
    report(sorted(results, key=lambda r: r.layout.workers), args.json)
    return 1 if any(r.duplicates for r in results) else 0


if __name__ == "__main__":
    run_and_exit(lambda: asyncio.run(main()))  # no interpreter teardown: see app/cli/process_exit.py
