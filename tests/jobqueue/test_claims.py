"""Claiming jobs (seed properties 3, 5, 6, 28, 29, 30), on SQLite and PostgreSQL.

A model of the rules (rework before backlog, then position; one job per project and per agent; a running job is
never pre-empted) is compared with the real claims step by step; concurrent claimers race on a real database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from activities.queue import AgentRef, EnqueueInput, QueueActivities
from app.jobqueue.claims import next_job
from app.jobqueue.edits import set_paused
from app.jobqueue.views import queue_status
from app.store.models import Agent
from tests.jobqueue.conftest import add_agents, add_job, finish, job_input, positions, rows, wipe

PROJECTS = ("ALPHA", "BETA", "GAMMA")
AGENTS = ("10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051")
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@dataclass
class Model:
    """The queue rules, as plainly as they can be said."""

    queued: list[tuple[str, str, str]] = field(default_factory=list)  # (job, project, kind) in creation order
    running: dict[str, tuple[str, str]] = field(default_factory=dict)  # agent -> (job, project)

    def claim(self, agent: str) -> str | None:
        if agent in self.running:
            return None  # one job per agent
        busy = {project for _, project in self.running.values()}
        # Rework first, then position (= creation order here); a project with a running job offers nothing.
        ordered = sorted(self.queued, key=lambda j: (j[2] != "rework", self.queued.index(j)))
        for job, project, kind in ordered:
            if project not in busy:
                self.queued.remove((job, project, kind))
                self.running[agent] = (job, project)
                return job
        return None


actions = st.lists(
    st.one_of(
        st.tuples(st.just("claim"), st.sampled_from(AGENTS)),
        st.tuples(st.just("finish"), st.sampled_from(AGENTS)),
        st.tuples(st.just("add"), st.tuples(st.sampled_from(PROJECTS[:2]), st.sampled_from(("rework", "backlog")))),
    ),
    min_size=1,
    max_size=18,
)
initial = st.lists(st.tuples(st.sampled_from(PROJECTS), st.sampled_from(("rework", "backlog"))), max_size=7)


@SETTINGS
@given(initial=initial, steps=actions)
def test_claims_follow_the_rules(factory: sessionmaker[Session], initial: list[tuple[str, str]], steps: list) -> None:
    wipe(factory)
    queue = QueueActivities(factory)
    add_agents(factory, *AGENTS)
    model = Model()
    counter = iter(range(1000))

    def add(project: str, kind: str) -> None:
        job_id = f"j{next(counter):03d}"
        add_job(factory, job_input(job_id, project, kind))
        model.queued.append((job_id, project, kind))

    for project, kind in initial:
        add(project, kind)
    for action, arg in steps:
        if action == "add":
            add(*arg)
        elif action == "claim":
            claimed = queue.claim_next_job(AgentRef(arg))
            assert (claimed.job.job_id if claimed else None) == model.claim(arg)
        elif arg in model.running:
            job_id, _ = model.running.pop(arg)
            finish(factory, job_id)
        current = rows(factory)
        running = [r for r in current.values() if r.status == "in_progress"]
        assert {r.agent: r.job_id for r in running} == {a: j for a, (j, _) in model.running.items()}
        assert len({r.project for r in running}) == len(running), "two jobs of one project at once"
        for project in PROJECTS:
            assert positions(factory, project) == list(range(1, len(positions(factory, project)) + 1))


def test_a_paused_project_offers_nothing_until_resumed(factory: sessionmaker[Session]) -> None:
    queue = QueueActivities(factory)
    add_agents(factory, AGENTS[0])
    add_job(factory, job_input("p1", "ALPHA", "rework"))
    add_job(factory, job_input("p2", "BETA"))
    with factory.begin() as session:
        set_paused(session, "ALPHA", True, "test")
    with factory() as session:
        assert queue_status(session, "ALPHA").paused and not queue_status(session, "BETA").paused
    claimed = queue.claim_next_job(AgentRef(AGENTS[0]))
    assert claimed is not None and claimed.job.job_id == "p2"  # ALPHA's rework job waits while paused
    finish(factory, "p2")
    with factory.begin() as session:
        set_paused(session, "ALPHA", False, "test")
    claimed = queue.claim_next_job(AgentRef(AGENTS[0]))
    assert claimed is not None and claimed.job.job_id == "p1"


def test_only_queued_jobs_with_a_spec_are_claimed(factory: sessionmaker[Session]) -> None:
    queue = QueueActivities(factory)
    add_agents(factory, AGENTS[0])
    add_job(factory, job_input("old", "ALPHA"), enqueue=False)  # an older release starts its job directly
    assert queue.claim_next_job(AgentRef(AGENTS[0])) is None
    with factory() as session:
        assert next_job(session, session.get(Agent, AGENTS[0])) is None


def test_a_job_queued_without_its_context_is_claimed_with_the_rows(factory: sessionmaker[Session]) -> None:
    # Issue 13 finding 9: the orchestration sends the context once (create_job), not again to the queue.
    queue = QueueActivities(factory)
    add_agents(factory, AGENTS[0])
    job = job_input("byref", "ALPHA")
    add_job(factory, job, enqueue=False)
    queue.enqueue_job(EnqueueInput(replace(job, prompt="", context="")))
    claimed = queue.claim_next_job(AgentRef(AGENTS[0]))
    assert claimed is not None and claimed.job == job


def test_an_unhealthy_or_offline_agent_gets_nothing(factory: sessionmaker[Session]) -> None:
    from datetime import UTC, datetime

    from app.jobqueue.agents import record_health

    queue = QueueActivities(factory)
    add_agents(factory, AGENTS[0])
    add_job(factory, job_input("h1", "ALPHA"))
    with factory.begin() as session:
        record_health(session, AGENTS[0], False, "refused", 3, datetime.now(UTC))
    assert queue.claim_next_job(AgentRef(AGENTS[0])) is None  # its last ping failed
    assert queue.claim_next_job(AgentRef("10.9.9.9:1")) is None  # not registered
    with factory.begin() as session:
        record_health(session, AGENTS[0], True, "", 3, datetime.now(UTC))
    claimed = queue.claim_next_job(AgentRef(AGENTS[0]))
    assert claimed is not None and claimed.job == job_input("h1", "ALPHA")  # the whole input comes back


def test_roles_an_agent_lacks_keep_it_from_a_projects_head(factory: sessionmaker[Session]) -> None:
    queue = QueueActivities(factory)
    add_agents(factory, AGENTS[0])
    with factory.begin() as session:
        from app.jobqueue.agents import register

        register(session, AGENTS[0], ["test-runner"])
    add_job(factory, job_input("r1", "ALPHA", roles=("planner",)))
    add_job(factory, job_input("r2", "ALPHA", roles=("test-runner",)))
    # r2 fits the agent, but ALPHA's jobs run in order: r1 is next, so the agent gets nothing.
    assert queue.claim_next_job(AgentRef(AGENTS[0])) is None


def test_concurrent_claimers_never_share_a_job_an_agent_or_a_project(factory: sessionmaker[Session]) -> None:
    queue = QueueActivities(factory)
    add_agents(factory, *AGENTS)
    for n in range(12):
        add_job(factory, job_input(f"c{n:02d}", PROJECTS[n % 3], "rework" if n % 4 == 0 else "backlog"))
    expected_order = {p: _claim_order(factory, p) for p in PROJECTS}
    claims: list[tuple[str, str, float]] = []  # (job, agent, when)
    violations: list[str] = []
    lock = threading.Lock()
    done = threading.Event()
    deadline = time.monotonic() + 60

    def claimer(agent: str) -> None:
        while not done.is_set() and time.monotonic() < deadline:
            claimed = queue.claim_next_job(AgentRef(agent))
            if claimed is None:
                time.sleep(0.001)  # a busy loop's yield to the other claimers, not a wait for a condition
                continue
            with lock:
                claims.append((claimed.job.job_id, agent, time.monotonic()))
            time.sleep(0.003)  # the job "runs": long enough for the auditor to see two at once, if ever
            finish(factory, claimed.job.job_id)

    def auditor() -> None:
        while not done.is_set() and time.monotonic() < deadline:
            running = [r for r in rows(factory).values() if r.status == "in_progress"]
            for what in ("agent", "project"):
                keys = [getattr(r, what) for r in running]
                if len(keys) != len(set(keys)):
                    violations.append(f"two jobs at once on one {what}: {running}")

    threads = [threading.Thread(target=claimer, args=(a,)) for a in AGENTS for _ in range(3)]
    threads.append(threading.Thread(target=auditor))
    for thread in threads:
        thread.start()
    while time.monotonic() < deadline and not all(r.status == "completed" for r in rows(factory).values()):
        time.sleep(0.01)
    done.set()
    for thread in threads:
        thread.join(10)
    assert violations == []
    assert sorted(c[0] for c in claims) == sorted(f"c{n:02d}" for n in range(12)), "each job claimed exactly once"
    final = rows(factory)
    for project in PROJECTS:
        ran = [job for job, _, _ in sorted(claims, key=lambda c: c[2]) if final[job].project == project]
        assert ran == expected_order[project], f"{project} ran out of order"


def _claim_order(factory: sessionmaker[Session], project: str) -> list[str]:
    from app.jobqueue.views import queue_status

    with factory() as session:
        return [job.job_id for job in queue_status(session, project).queued]
