"""Jira misbehaving: a storm of 429s and 503s, and a revoked token (401).

Under the storm every run completes, each `Retry-After` is honoured before the bot writes to that issue again,
and the bot never goes over Jira's per-issue write limit. With the token revoked the run stops with the Jira cause
and the bot does not keep knocking (no retry storm).
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from app.sandbox.people import SandboxPerson
from tests.chaos.issues import (
    BOT,
    BURST_LIMIT,
    TRIGGER,
    bot_comments,
    clear_faults,
    finished,
    max_burst,
    now,
    outcome,
    plan_fault,
    requests_since,
    shortest_wait_after,
)
from tests.chaos.report import Figures, scale
from tests.e2e.harness import close_site, eventually, open_site, start_processes
from workflows.ids import workflow_id_for
from workflows.messages import RunStatus
from workflows.orchestration import OrchestrationWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

RETRY_AFTER_S = 1


async def test_runs_complete_through_a_storm_of_429_and_503(
    temporal_env: WorkflowEnvironment, tmp_path: Path, figures: Figures
) -> None:
    runs, storm_s = scale(4, 2), scale(120, 20)
    site = await open_site(temporal_env, tmp_path, agents=1)
    stack = site.stack
    try:
        await start_processes(site, [0])
        keys = ["DEMO-1", "OPS-1", "DEMO-2", "OPS-2"][:runs]
        reporter = SandboxPerson(stack.jira_url, "reporter")
        since = now()
        for key in keys:
            reporter.label(key, TRIGGER)
        # 30 % of requests answered 429, and 10 % 503 (one in seven of those the 429s spare), both Retry-After 1 s.
        plan_fault(stack, kind="429", count=None, fraction=0.3, retry_after=RETRY_AFTER_S)
        plan_fault(stack, kind="503", count=None, fraction=1 / 7, retry_after=RETRY_AFTER_S)
        await asyncio.sleep(storm_s)
        clear_faults(stack)

        all_finished = lambda: all(finished(stack, k) for k in keys)  # noqa: E731
        await eventually(stack, all_finished, "every run to complete", scale(900, 200))
        ended = [outcome(stack, key) for key in keys]
        requests = requests_since(stack, since)
    finally:
        await close_site(site)

    bot = [r for r in requests if r["account"] == BOT]
    during = [r for r in bot if r["at"] < since + storm_s]
    scenario = f"Jira answering 30 % 429 and 10 % 503 (Retry-After {RETRY_AFTER_S} s) for {storm_s} s, {runs} runs"
    ok = sum(o.status == "Done" and o.status_comments == 1 and o.summaries == 1 for o in ended)
    refused = {status: sum(r["status"] == status for r in during) for status in (429, 503)}
    shortest = {status: shortest_wait_after(requests, status) for status in (429, 503)}
    figures.add(scenario, "Runs completed", f"{ok}/{runs}", f"{runs}/{runs}")
    figures.add(scenario, "Bot requests in the storm (429 / 503 answers)", f"{len(during)} ({refused[429]} / "
                f"{refused[503]})")  # fmt: skip
    for status in (429, 503):
        wait = "none met" if shortest[status] is None else f"{shortest[status]:.2f}"
        figures.add(scenario, f"Shortest wait after a {status} before writing to that issue again (s)", wait,
                    f"≥ {RETRY_AFTER_S}")  # fmt: skip
    figures.add(scenario, "Duplicated comments", sum(o.duplicate_comments for o in ended), 0)
    figures.add(scenario, "Duplicated status transitions", sum(o.duplicate_moves for o in ended), 0)
    figures.add(scenario, "Most bot writes to one issue in 2 s", max_burst(requests), f"≤ {BURST_LIMIT}")
    assert ok == runs, (ended, [(r["method"], r["path"], r["status"]) for r in bot if "transitions" in r["path"]])
    assert refused[429] > 0
    assert all(s is None or s >= RETRY_AFTER_S * 0.95 for s in shortest.values()), shortest
    assert sum(o.duplicate_comments for o in ended) == 0 and sum(o.duplicate_moves for o in ended) == 0, ended
    assert max_burst(requests) <= BURST_LIMIT


async def test_a_revoked_jira_token_stops_the_run_without_a_retry_storm(
    temporal_env: WorkflowEnvironment, tmp_path: Path, figures: Figures
) -> None:
    quiet_s = scale(60, 15)
    site = await open_site(temporal_env, tmp_path, agents=1)
    stack = site.stack
    try:
        await start_processes(site, [0])
        SandboxPerson(stack.jira_url, "reporter").label("DEMO-1", TRIGGER)
        handle: WorkflowHandle[OrchestrationWorkflow, None] = site.client.get_workflow_handle(workflow_id_for("DEMO-1"))
        await eventually(stack, lambda: bool(bot_comments(stack, "DEMO-1")), "the run's first comment")
        since = now()
        plan_fault(stack, kind="401", count=None)  # every request from now on: the token was revoked

        async def stopped() -> bool:
            return (await handle.query(OrchestrationWorkflow.get_status)).status == RunStatus.FAILED

        await eventually(stack, stopped, "the run to stop on the refused token", 120)
        state = await handle.query(OrchestrationWorkflow.get_status)
        stopped_at = now()
        await asyncio.sleep(quiet_s)
        requests = requests_since(stack, since)
    finally:
        await close_site(site)

    bot = [r for r in requests if r["account"] == BOT]
    after = [r for r in bot if r["at"] > stopped_at]
    # A retry storm would be the run (or anything for its issue) knocking again; the reconciliation sweep's
    # periodic search (no issue in its path) goes on at its interval whatever Jira answers, and is counted apart.
    late = [r for r in after if r["at"] > stopped_at + quiet_s / 2 and r["issue"] is not None]
    sweeps = [r for r in after if r["issue"] is None and "/search" in r["path"]]
    # A process still learning the bot's account (`/myself`) when the token went asks again with doubling pauses.
    lookups = [r for r in after if r["issue"] is None and r not in sweeps]
    scenario = "Jira answering 401 to every request (the bot's token revoked) in the middle of a run"
    assert state.failure is not None
    figures.add(scenario, "Run stopped, cause", f"{state.status}, {state.failure.cause}", "failed, authentication")
    figures.add(scenario, "Bot requests from the revoke to the stop", len(bot) - len(after))
    figures.add(scenario, "Bot requests for the issue after the stop (marking it blocked, once)",
                len(after) - len(sweeps) - len(lookups), "≤ 5")  # fmt: skip
    figures.add(scenario, f"… of them in the last {quiet_s / 2:g} s of {quiet_s} s watched", len(late),
                "0 (no retry storm)")  # fmt: skip
    figures.add(scenario, f"Periodic sweep searches in those {quiet_s} s", len(sweeps), "≤ 1 a minute")
    assert state.failure.cause == "authentication" and "401" in state.failure.message, state.failure
    assert len(after) - len(sweeps) - len(lookups) <= 5 and not late, after
    assert len(sweeps) <= max(1, quiet_s // 60) + 1, sweeps
    assert all("/myself" in r["path"] for r in lookups), lookups
    assert len(lookups) <= math.log2(quiet_s) + 1, lookups  # 1 s, 2 s, 4 s, ... apart: no storm
    assert len(bot) - len(after) <= 10, bot
