"""The job system end to end with real processes: sandbox Jira, gunicorn web, worker and `orchestrator agent`s.

Issue 7's two "Done when" items about agents, proven with the reference agent (the demo profile) rather than the
scripted in-process agent of tests/jobqueue/test_system.py and test_agent_loss.py:

- two agents, ten issues of two projects labelled at once: every job runs exactly once, never two at a time on
  one agent, rework ahead of waiting backlog, each project's jobs one at a time and in queue order;
- an agent SIGKILLed mid-job: offline after 3 failed pings, its schedules paused, its job requeued and reported
  on the issue; restarted where it was, it is back online, its schedules resume and the run finishes.

"Stopping" is SIGKILL: the agent vanishes as in a crash, an OOM kill or a lost host, with no NOT_SERVING, no
interrupted job and its job's command left running. SIGTERM would be a polite stop the agent announces; SIGSTOP a
hang (pings time out instead of being refused), and a stopped process cannot be "restarted on the same address"
without being killed first.

Evidence comes from three places that do not share code paths: the database (`agent_jobs`, `job_logs`), Temporal
(the namespace's job workflows and health checks), and each agent's own job journals (`<workspaces>/.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from app.agent_client.proto import agent_pb2 as pb
from app.agent_server.jobs import Journal
from app.sandbox.people import SandboxPerson
from app.store.models import Agent, AgentJob, JobLog
from tests.chaos.report import FIGURES
from tests.e2e.harness import Site, Stack, close_site, eventually, gated_demo_profile, open_site, start_processes
from workflows.agent_health import AgentHealthCheckWorkflow
from workflows.ids import workflow_id_for
from workflows.messages import RunStatus
from workflows.orchestration import OrchestrationWorkflow
from workflows.queue_types import AgentHealth, agent_schedule_ids, job_workflow_id
from workflows.wiki import inline

pytestmark = pytest.mark.e2e

TRIGGER = "ai-orchestrate"
STATUS_HEADING = "h3. 🤖 AI orchestration"
# The demo profile's run of one issue: its CODE breaks a test, so TEST fails, FIX repairs it and TEST runs again.
# (phase, queue kind, how the job ended): a job "failed" when its agent reported failing tests.
DEMO_RUN = [
    ("EXPLORE", "backlog", "completed"),
    ("PLAN", "backlog", "completed"),
    ("CODE", "backlog", "completed"),
    ("TEST", "backlog", "failed"),
    ("FIX", "rework", "completed"),
    ("TEST", "rework", "completed"),
    ("DOCUMENT", "backlog", "completed"),
]


@dataclass(frozen=True)
class Ran:
    """One job as an agent's journals show it: the agent, and the span from its first event to its last."""

    job_id: str
    agent: str
    start: datetime
    end: datetime


@pytest.fixture
async def two_agents(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Site]:
    """Sandbox Jira, two demo agents, web and worker; runs go through their gates on their own."""
    site = await open_site(temporal_env, tmp_path, agents=2)
    try:
        await start_processes(site, [0, 1])
        yield site
    finally:
        await close_site(site)


def jobs(site: Site) -> list[AgentJob]:
    """Every job row."""
    with site.db() as session:
        return list(session.scalars(select(AgentJob)))


def bot_comments(stack: Stack, key: str) -> list[str]:
    """The bot's comments on an issue, oldest first."""
    comments = stack.rest(f"issue/{key}/comment?maxResults=100")["comments"]
    return [c["body"] for c in comments if c["author"]["accountId"] == "sandbox-bot"]


def status_of(stack: Stack, key: str) -> str:
    """The issue's status name in the sandbox."""
    return str(stack.rest(f"issue/{key}?fields=status")["fields"]["status"]["name"])


def journals(root: Path) -> list[tuple[dict[str, object], list[pb.ExecuteEvent]]]:
    """An agent's job journals (state, events) under its workspaces: what that agent process itself ran."""
    found = []
    for folder in sorted((root / ".jobs").iterdir()):
        loaded = Journal(folder).load()
        if loaded is not None:
            events, state = loaded
            found.append((state, events))
    return found


def agent_runs(stack: Stack) -> tuple[list[Ran], dict[str, list[pb.ExecuteEvent]]]:
    """Each job's span on the agent that ran it (its own command, verification, push and cleanup), from the
    journals; and the events of each phase command by job id, once per agent that ran it."""
    spans: dict[tuple[str, str], Ran] = {}
    phase_events: dict[str, list[pb.ExecuteEvent]] = {}
    for index, address in enumerate(stack.agent_addresses):
        for state, events in journals(stack.agent_workspaces(index)):
            job_id, _, step = str(state["job_id"]).partition(":")
            times = [e.time.ToDatetime(tzinfo=UTC) for e in events]
            ran = spans.get((job_id, address), Ran(job_id, address, min(times), max(times)))
            spans[(job_id, address)] = Ran(job_id, address, min(ran.start, *times), max(ran.end, *times))
            if not step:
                assert job_id not in phase_events, f"{job_id} ran on two agents"
                phase_events[job_id] = events
    return sorted(spans.values(), key=lambda r: r.start), phase_events


def assert_one_at_a_time(spans: list[tuple[str, datetime, datetime]], what: str) -> None:
    """No span starts before the one before it has ended."""
    ordered = sorted(spans, key=lambda s: s[1])
    for before, after in itertools.pairwise(ordered):
        assert after[1] >= before[2], f"{after[0]} started on {what} while {before[0]} ran"


def queued_by(rows: list[AgentJob]) -> dict[str, datetime]:
    """When each job entered the queue: its `created_at`. The row is inserted with its spec in one transaction
    (activities/dispatch.py `queue_job`) that holds the write lock from before its time is taken to its commit, and
    a claim takes its `started_at` under the same lock: a job created before a claim's time was in the queue the
    claim read, and one created after it was not."""
    return {row.id: row.created_at for row in rows}


def assert_queue_order(project: list[AgentJob], queued: dict[str, datetime]) -> int:
    """Claims of one project followed the queue: rework before waiting backlog, backlog first come first served.

    A job was waiting from `queued[id]` (at the latest) until its claim (`started_at`); it did not exist before
    its row was created. Returns how often a rework job was claimed ahead of backlog that had been waiting since
    before the rework job existed, so the rule was not only obeyed but exercised.
    """
    overtakes = 0
    for job, other in itertools.permutations(project, 2):
        if job.queue_kind == "backlog" and other.queue_kind == "rework":
            waiting = queued[other.id] < job.started_at < other.started_at
            assert not waiting, f"backlog job {job.id} was claimed while rework job {other.id} waited"
        if job.queue_kind == other.queue_kind == "backlog" and queued[job.id] < other.created_at:
            assert job.started_at < other.started_at, f"{other.id} was claimed before the older {job.id}"
        if job.queue_kind == "rework" and other.queue_kind == "backlog":
            overtakes += queued[other.id] < job.created_at and job.started_at < other.started_at
    return overtakes


async def test_two_agents_run_ten_issues_of_two_projects_each_job_once_in_queue_order(two_agents: Site) -> None:
    site, stack = two_agents, two_agents.stack
    started = time.monotonic()
    reporter = SandboxPerson(stack.jira_url, "reporter")
    created = [reporter.create(f"Greet visitors, part {n}", project="DEMO") for n in (4, 5)]
    created += [reporter.create(f"Greet operators, part {n}", project="OPS") for n in (3, 4, 5)]
    issues = [f"DEMO-{n}" for n in range(1, 6)] + [f"OPS-{n}" for n in range(1, 6)]
    assert sorted(created) == sorted(set(issues) - {"DEMO-1", "DEMO-2", "DEMO-3", "OPS-1", "OPS-2"})

    # All ten at once, each by a person adding the trigger label: the real webhook path starts every run.
    await asyncio.gather(
        *(asyncio.to_thread(SandboxPerson(stack.jira_url, "reviewer").label, key, TRIGGER) for key in issues)
    )
    await eventually(stack, lambda: all(status_of(stack, key) == "Done" for key in issues), "ten runs Done", 240)
    done_after = time.monotonic() - started
    for key in issues:
        result = await site.client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id_for(key)).result()
        assert result.status == RunStatus.COMPLETED, key
        # The outbox delivers in order but the status comment may trail the transition by one write.
        await eventually(stack, lambda k=key: "*Status:* Completed" in bot_comments(stack, k)[0], f"{key}'s status")
        status = [c for c in bot_comments(stack, key) if c.startswith(STATUS_HEADING)]
        assert len(status) == 1, (key, status)
        assert "|FIX|✅|1|" in status[0], status[0]

    rows = jobs(site)
    by_id = {job.id: job for job in rows}
    for key in issues:  # each issue's jobs: the demo run, in order, each once, each completed on an agent
        own = sorted((j for j in rows if j.issue_key == key), key=lambda j: j.started_at)
        assert [(j.phase, j.queue_kind, j.status) for j in own] == DEMO_RUN, key
        assert all(j.project_key == key.split("-")[0] for j in own)
    failed = [(j.id, j.error_kind, j.error) for j in rows if j.status == "failed"]
    assert {kind for _, kind, _ in failed} == {"TESTS_FAILED"}, failed
    assert {j.recoveries for j in rows} == {0}
    assert {j.agent_id for j in rows} == set(stack.agent_addresses)  # both agents worked
    assert all(j.started_at and j.finished_at and j.started_at < j.finished_at for j in rows)

    # Temporal: one job workflow per job, ever (none started twice, none for a job the database does not know).
    runs = [r async for r in site.client.list_workflows('WorkflowType = "JobExecutionWorkflow"')]
    assert sorted(r.id for r in runs) == sorted(job_workflow_id(j.id) for j in rows)
    assert {r.status for r in runs} == {WorkflowExecutionStatus.COMPLETED}

    # The agents' own journals: each job's command ran once, on the agent the database names, to one result.
    spans, phase_events = agent_runs(stack)
    assert sorted(phase_events) == sorted(by_id)
    for job_id, events in phase_events.items():
        results = [e for e in events if e.HasField("result")]
        assert len(results) == 1, f"{job_id} has {len(results)} results"
        assert not any(e.log.stage == "agent" and " again (attempt " in e.log.message for e in events), job_id
    for ran in spans:
        assert by_id[ran.job_id].agent_id == ran.agent, f"{ran.job_id} ran on {ran.agent}"
    # ... and each agent's stream, stored in job_logs, names that agent's own workspace.
    with site.db() as session:
        lines = session.scalars(select(JobLog).where(JobLog.stage == "workspace")).all()
    workspace_of = {line.job_id: line.message for line in lines}
    for job in rows:
        index = stack.agent_addresses.index(job.agent_id or "")
        assert f"{stack.agent_workspaces(index).resolve()}/{job.issue_key} " in workspace_of[job.id], job.id

    for address in stack.agent_addresses:  # never two jobs at a time on one agent (its journals, and the claims)
        assert_one_at_a_time([(r.job_id, r.start, r.end) for r in spans if r.agent == address], address)
        claims = [(j.id, j.started_at, j.finished_at) for j in rows if j.agent_id == address]
        assert_one_at_a_time(claims, f"{address} (claims)")
    queued = queued_by(rows)
    for project in ("DEMO", "OPS"):  # one job at a time per project, in queue order, rework first
        own = [j for j in rows if j.project_key == project]
        assert_one_at_a_time([(j.id, j.started_at, j.finished_at) for j in own], project)
        ran = [(r.job_id, r.start, r.end) for r in spans if by_id[r.job_id].project_key == project]
        assert_one_at_a_time(ran, f"{project} (journals)")
        assert assert_queue_order(own, queued) > 0, f"no rework job of {project} ever had backlog to overtake"
    print(f"ten runs, {len(rows)} jobs on two agents: Done after {done_after:.1f}s")


@pytest.fixture
async def one_agent(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Site]:
    """Sandbox Jira, one agent (EXPLORE gated on `<tmp>/release-explore`), web and worker; the job system's
    schedules tick every second, so three failed pings take about three seconds."""
    profile = gated_demo_profile(tmp_path, tmp_path / "release-explore")
    site = await open_site(
        temporal_env,
        tmp_path,
        agents=1,
        AGENT_PROFILE=str(profile),
        AGENT_HEALTH_INTERVAL="1s",
        QUEUE_MONITOR_INTERVAL="1s",
        JOB_RECOVERY_INTERVAL="1s",
    )
    try:
        await start_processes(site, [0])
        yield site
    finally:
        await close_site(site)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


async def paused(client: Client, address: str) -> list[tuple[bool, str | None]]:
    """(paused, note) of the agent's queue-monitor and health-check schedules."""
    states = [(await client.get_schedule_handle(sid).describe()).schedule.state for sid in agent_schedule_ids(address)]
    return [(state.paused, state.note) for state in states]


async def health_checks(client: Client, address: str) -> list[AgentHealth]:
    """Every finished health check of the agent (its schedule's, the revival probe's), in the order they ran."""
    checks = []
    async for run in client.list_workflows(
        'WorkflowType = "AgentHealthCheckWorkflow" AND ExecutionStatus = "Completed"'
    ):
        result = await client.get_workflow_handle_for(AgentHealthCheckWorkflow.run, run.id, run_id=run.run_id).result()
        checks += [(run.start_time, check) for check in result.checked if check.agent_id == address]
    return [check for _, check in sorted(checks, key=lambda pair: pair[0])]


async def test_an_agent_killed_mid_job_goes_offline_its_job_is_requeued_and_work_resumes_on_restart(
    one_agent: Site,
) -> None:
    site, stack = one_agent, one_agent.stack
    address, gate, key = stack.agent_addresses[0], stack.dir / "release-explore", "DEMO-1"
    started = time.monotonic()

    def explore() -> AgentJob:
        with site.db() as session:
            job = session.scalars(select(AgentJob).where(AgentJob.phase == "EXPLORE")).one()
            session.expunge(job)
            return job

    def explore_journal() -> tuple[dict[str, object], list[pb.ExecuteEvent]]:
        job_id = explore().id
        return next((s, e) for s, e in journals(stack.agent_workspaces(0)) if s["job_id"] == job_id)

    def agent_row() -> Agent:
        with site.db() as session:
            agent = session.get(Agent, address)
            assert agent is not None
            session.expunge(agent)
            return agent

    SandboxPerson(stack.jira_url, "reviewer").label(key, TRIGGER)

    def command_pid() -> int | None:
        """The pid of the claimed job's command, once the agent runs it (not one of its short git calls)."""
        with site.db() as session:
            claimed = session.scalars(select(AgentJob).where(AgentJob.status == "in_progress")).all()
        ours = [s for s, _ in journals(stack.agent_workspaces(0)) if s["job_id"] in {j.id for j in claimed}]
        for state in ours:
            pid = state["pid"]
            if state["state"] == "JOB_STATE_RUNNING" and isinstance(pid, int) and pid:
                with contextlib.suppress(OSError):  # the process may end between the read and here
                    if b"app.agent_server.demo" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        return pid
        return None

    await eventually(stack, lambda: command_pid() is not None, "EXPLORE's command running on the agent")
    job_id, left_running = explore().id, command_pid()
    assert left_running is not None
    assert explore().agent_id == address
    # SIGKILL: the agent is gone at once, without a goodbye (no NOT_SERVING, no interrupted job, no closed stream
    # on its side); its job's command, in a session of its own, is left running like after a crash.
    stack.kill("agent-0")
    stopped = time.monotonic()

    await eventually(stack, lambda: agent_row().status == "offline", "the agent offline")
    offline_after = time.monotonic() - stopped
    note = "offline after 3 failed health checks"
    await eventually(stack, lambda: _async_eq(paused(site.client, address), [(True, note)] * 2), "schedules paused")
    await eventually(stack, lambda: (explore().status, explore().recoveries) == ("queued", 1), "the job requeued")
    lost = f"🔁 The agent job {inline(job_id, 120)} was lost ({inline(f'its agent {address} went offline')});"
    await eventually(stack, lambda: any(c.startswith(lost) for c in bot_comments(stack, key)), "the issue told")
    recovered_after = time.monotonic() - stopped

    async def went_offline() -> bool:  # the check's run ends after it has recovered the job; visibility lags
        return any(c.went_offline for c in await health_checks(site.client, address))

    await eventually(stack, went_offline, "the health check that took the agent offline")
    checks = await health_checks(site.client, address)
    failures = [c.consecutive_failures for c in checks if not c.ok]
    assert failures[:3] == [1, 2, 3], failures  # three failed pings in a row ...
    assert [c.consecutive_failures for c in checks if c.went_offline] == [3]  # ... and the third took it offline
    assert explore().status == "queued" and alive(left_running)  # nobody took the job while its agent was away

    stack.start_agent(0)  # where it was: same address, same workspaces and journals
    await eventually(stack, lambda: agent_row().status == "online", "the agent online again")
    note = "answering health checks again"
    await eventually(stack, lambda: _async_eq(paused(site.client, address), [(False, note)] * 2), "schedules resumed")
    back_after = time.monotonic() - stopped

    async def came_back() -> bool:
        return any(c.came_back for c in await health_checks(site.client, address))

    await eventually(stack, came_back, "the health check that found the agent back")
    assert [c.agent_id for c in await health_checks(site.client, address) if c.came_back] == [address]
    assert not alive(left_running)  # the restarted agent killed what its predecessor left running
    gate.touch()
    await eventually(stack, lambda: status_of(stack, key) == "Done", "the run Done", 90)
    result = await site.client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id_for(key)).result()
    assert result.status == RunStatus.COMPLETED

    job = explore()
    assert (job.status, job.recoveries, job.agent_id) == ("completed", 1, address)
    assert job.temporal_workflow_id == job_workflow_id(job.id, 1)
    first_run = await site.client.get_workflow_handle(job_workflow_id(job.id)).describe()
    assert first_run.status == WorkflowExecutionStatus.TERMINATED  # the recovery stopped what was left of it
    rows = jobs(site)
    assert [(j.phase, j.queue_kind, j.status) for j in sorted(rows, key=lambda j: j.started_at)] == DEMO_RUN
    assert {j.recoveries for j in rows if j.id != job.id} == {0}
    # The agent's journal of the job: the first run cut off (no result), the rerun after the restart, one result.
    state, events = explore_journal()
    assert state["state"] == "JOB_STATE_SUCCEEDED"
    assert sum(e.HasField("result") for e in events) == 1
    assert any(e.HasField("log") and e.log.message == "running EXPLORE again (attempt 1)" for e in events)
    await eventually(stack, lambda: "*Status:* Completed" in bot_comments(stack, key)[0], "the final status comment")
    comments = bot_comments(stack, key)
    assert sum(c.startswith(STATUS_HEADING) for c in comments) == 1
    assert sum(c.startswith(lost) for c in comments) == 1
    # Also a figure of the chaos suite (docs/reliability.md): an agent killed mid-job and restarted.
    scenario = "An agent SIGKILLed mid-job and started again on its address (tests/e2e/test_job_system.py)"
    FIGURES.add(scenario, "Run ended as it should, the job done once (1 recovery, one result)", "yes", "yes")
    FIGURES.add(scenario, "Kill → agent offline / job requeued / agent back online (s)",
                f"{offline_after:.1f} / {recovered_after:.1f} / {back_after:.1f}")  # fmt: skip
    FIGURES.add(scenario, "Label → Done (s)", round(time.monotonic() - started))


async def _async_eq(value: Awaitable[object], expected: object) -> bool:
    return await value == expected
