"""An agent SIGKILLed in the middle of a job and never started again: its job is requeued, another agent runs it,
and the run ends as it should, each job done once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from app.sandbox.people import SandboxPerson
from app.store.models import AgentJob
from tests.chaos.issues import TRIGGER, finished, outcome
from tests.chaos.report import Figures
from tests.e2e.harness import close_site, eventually, gated_demo_profile, open_site, start_processes

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


async def test_a_job_on_an_agent_gone_for_good_is_done_once_by_another(
    temporal_env: WorkflowEnvironment, tmp_path: Path, figures: Figures
) -> None:
    gate = tmp_path / "release-explore"  # EXPLORE's command waits for it, so the kill lands mid-job
    site = await open_site(
        temporal_env,
        tmp_path,
        agents=2,
        AGENT_PROFILE=str(gated_demo_profile(tmp_path, gate)),
        AGENT_HEALTH_INTERVAL="1s",
        QUEUE_MONITOR_INTERVAL="1s",
        JOB_RECOVERY_INTERVAL="1s",
    )
    stack = site.stack
    try:
        await start_processes(site, [0, 1])

        def explore() -> AgentJob | None:
            with site.db() as session:
                job = session.scalars(select(AgentJob).where(AgentJob.phase == "EXPLORE")).first()
                if job is not None:
                    session.expunge(job)
                return job

        SandboxPerson(stack.jira_url, "reporter").label("DEMO-1", TRIGGER)
        await eventually(stack, lambda: (j := explore()) is not None and j.status == "in_progress", "EXPLORE claimed")
        job = explore()
        assert job is not None and job.agent_id is not None
        gone = stack.agent_addresses.index(job.agent_id)
        stack.kill(f"agent-{gone}")  # for good: never started again
        killed = time.monotonic()
        gate.touch()
        await eventually(stack, lambda: finished(stack, "DEMO-1"), "the run to end on the other agent", 180)
        recovered = time.monotonic() - killed
        ended = outcome(stack, "DEMO-1")
        with site.db() as session:
            jobs = session.scalars(select(AgentJob)).all()
            explore_job = next(j for j in jobs if j.phase == "EXPLORE")
            per_job = sorted({(j.phase, j.status, j.agent_id == job.agent_id) for j in jobs})
    finally:
        await close_site(site)

    scenario = "An agent SIGKILLed mid-job and never started again (two agents)"
    ok = ended.status == "Done" and ended.status_comments == 1 and ended.summaries == 1
    figures.add(scenario, "Run ended as it should", "yes" if ok else f"no: {ended}", "yes")
    figures.add(scenario, "The killed job: recoveries, finished by", f"{explore_job.recoveries}, "
                f"{'the other agent' if explore_job.agent_id != job.agent_id else 'the killed one'}",
                "1, the other agent")  # fmt: skip
    figures.add(scenario, "Jobs run on the killed agent after the kill", sum(own for _, _, own in per_job), 0)
    figures.add(scenario, "Duplicated comments", ended.duplicate_comments, 0)
    figures.add(scenario, "Kill → run Done (s)", round(recovered))
    assert ok, ended
    assert explore_job.recoveries == 1 and explore_job.agent_id != job.agent_id, explore_job
    assert not any(own for _, _, own in per_job), per_job
    assert ended.duplicate_comments == 0
