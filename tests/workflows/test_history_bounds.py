"""A run's history stays bounded (issue 13 finding 9): capped reject and retry loops, refused people answered once
per quiet window, and a long run continued as new at a phase boundary."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from app.config import Settings
from app.store.db import make_engine, make_session_factory
from app.store.models import Orchestration
from app.temporal.control import orchestration_input
from tests.workflows.conftest import Harness, keep_history, until, until_state
from tests.workflows.fakes import APPROVER, OUTSIDER, bad_request, by, context_of, waiting_at
from workflows.messages import (
    ApproveInput,
    CancelInput,
    OrchestrationInput,
    RejectInput,
    RetryInput,
    RunLimits,
    RunStatus,
    Source,
)
from workflows.orchestration import OrchestrationWorkflow


def answers(harness: Harness) -> list[str]:
    return [harness.jira.comments[k] for k in harness.jira.comment_posts if ":answer-" in k]


async def test_a_phase_rejected_as_often_as_allowed_is_not_redone_again(harness: Harness) -> None:
    handle = await harness.start(limits=RunLimits(max_rejects=1))
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    await handle.signal(OrchestrationWorkflow.reject, RejectInput(by(APPROVER, "r1"), feedback="look at billing"))
    await until(lambda: len(harness.agent.calls("EXPLORE")) == 2, what="EXPLORE to run again")
    await until_state(handle, lambda s: s.pending_gate == "EXPLORE" and len(s.approvals) == 1, "the gate again")
    await handle.signal(OrchestrationWorkflow.reject, RejectInput(by(APPROVER, "r2"), feedback="and refunds"))
    await until(lambda: any(":answer-r2" in k for k in harness.jira.comment_posts), what="the answer to r2")
    refused = harness.jira.comments[next(k for k in harness.jira.comment_posts if ":answer-r2" in k)]
    assert "EXPLORE was already rejected 1 times, the most a phase may be" in refused
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert state.pending_gate == "EXPLORE" and len(harness.agent.calls("EXPLORE")) == 2
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "r3")))
    assert (await handle.result()).status == RunStatus.CANCELLED


async def test_retries_stop_at_the_runs_cap_with_an_answer(harness: Harness) -> None:
    harness.agent.script("CODE", bad_request, bad_request)
    handle = await harness.start(auto_proceed=True, limits=RunLimits(max_retries=1))
    await until_state(handle, lambda s: s.status == RunStatus.FAILED, "CODE to fail")
    await handle.signal(OrchestrationWorkflow.retry, RetryInput(by(APPROVER, "x1")))
    await until_state(handle, lambda s: s.status == RunStatus.FAILED and s.retries == 1, "CODE to fail again")
    await handle.signal(OrchestrationWorkflow.retry, RetryInput(by(APPROVER, "x2")))
    await until(lambda: any(":answer-x2" in k for k in harness.jira.comment_posts), what="the answer to x2")
    refused = harness.jira.comments[next(k for k in harness.jira.comment_posts if ":answer-x2" in k)]
    assert "the run was already retried 1 times, the most a run may be" in refused
    assert len(harness.agent.calls("CODE")) == 2
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "x3")))
    assert (await handle.result()).status == RunStatus.CANCELLED


async def test_a_refused_person_is_answered_once_per_quiet_window(harness: Harness) -> None:
    handle = await harness.start(limits=RunLimits(refusal_quiet_seconds=600))
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    for n in range(6):
        await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(OUTSIDER, f"spam{n}")))
    await until_state(handle, lambda s: s.refusals_ignored == 5, "the spam to be counted")
    refusals = [a for a in answers(harness) if a.startswith("🚫")]
    assert len(refusals) == 1 and "Further commands from you in the next 10 minutes get no answer." in refusals[0]
    await harness.env.sleep(timedelta(minutes=11))
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(OUTSIDER, "later")))
    await until(lambda: any(":answer-later" in k for k in harness.jira.comment_posts), what="the next answer")
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert state.pending_gate == "EXPLORE" and state.refusals_ignored == 5
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "q1")))
    assert (await handle.result()).status == RunStatus.CANCELLED


async def test_a_long_run_continues_as_new_between_phases_and_completes_once(dev_harness: Harness) -> None:
    # A history limit this low is passed after every phase: the run continues as new before each next one. The
    # test reads the run while it does: on the dev server (see dev_harness).
    harness = dev_harness
    handle = await harness.start(limits=RunLimits(history_events=40))
    latest = harness.client.get_workflow_handle_for(OrchestrationWorkflow.run, handle.id)
    await until_state(latest, waiting_at("EXPLORE"), "the EXPLORE gate")
    await latest.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "c1"), notes="mind the API"))
    await until_state(latest, waiting_at("PLAN"), "the PLAN gate in a later run")
    plan = harness.agent.calls("PLAN")[0]
    assert context_of(plan)["approvals"][0]["text"] == "mind the API"  # the carried state reached the next run
    await latest.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "c2")))
    result = await latest.result()
    assert result.status == RunStatus.COMPLETED
    first_run = harness.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
    first = await first_run.fetch_history()
    assert first.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    await keep_history(first_run, "continued_as_new")
    await keep_history(latest, "continued_run_completes")
    # Nothing twice: one status comment, each comment once, each phase run once, one record of the run.
    jira = harness.jira
    assert len(jira.status_comments) == 1
    assert jira.status_ids_passed.count("") == 1  # the comment's id went on with the run into the next ones
    assert len(jira.comment_posts) == len(set(jira.comment_posts))
    kinds = sorted(k.split(":", 1)[1].split("-")[0] for k in jira.comment_posts)
    assert kinds == ["answer", "answer", "gate", "gate", "summary"]
    assert jira.statuses == ["In Progress", "Done"]
    commands = [r.command for r in harness.agent.requests if r.command not in {"cleanup"}]
    assert commands == [
        "EXPLORE", "PLAN", "CODE", "runVerification", "createPR", "TEST", "DOCUMENT", "createPR",
    ]  # fmt: skip
    engine = make_engine(harness.database_url)
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(Orchestration).where(Orchestration.issue_key == harness.key)).all()
        assert [(r.status, r.temporal_run_id) for r in rows] == [("completed", handle.first_execution_run_id)]
    engine.dispose()
    state = await latest.query(OrchestrationWorkflow.get_status)
    assert [p.outcome.value for p in state.phases] == ["succeeded"] * 4 + ["skipped", "succeeded"]


async def test_the_runs_history_carries_a_jobs_context_once(harness: Harness) -> None:
    # Issue 13 finding 9: the context (the earlier phases' work) goes to the new job's row once; the queued spec
    # refers to it (one activity queues a job: create, enqueue, dispatch).
    handle = await harness.start(auto_proceed=True)
    assert (await handle.result()).status == RunStatus.COMPLETED
    history = await handle.fetch_history()
    scheduled = [e.activity_task_scheduled_event_attributes for e in history.events]
    names = [a.activity_type.name for a in scheduled if a.activity_type.name]
    assert not {"create_job", "enqueue_job", "start_queue_monitor"} & set(names)
    queued = [json.loads(a.input.payloads[0].data) for a in scheduled if a.activity_type.name == "queue_job"]
    assert len(queued) == 5  # EXPLORE, PLAN, CODE, TEST, DOCUMENT
    assert all(json.loads(q["new"]["context"])["issue"] for q in queued)
    assert all(q["job"]["context"] == q["job"]["prompt"] == "" for q in queued)
    assert sum(len(json.dumps(q)) for q in queued) < 2 * sum(len(q["new"]["context"]) for q in queued)
    assert context_of(harness.agent.calls("DOCUMENT")[0])["previous_outputs"]["PLAN"]  # the agent still gets it all


def test_the_limits_come_from_settings_and_default_on() -> None:
    env = {"DATABASE_URL": "sqlite://", "ORCHESTRATOR_MAX_REJECTS": "2", "ORCHESTRATOR_REFUSAL_QUIET": "5m"}
    input = orchestration_input(Settings.from_env(environ=env, env_file=None), "PAY-1", "acc-1", Source.LABEL)
    assert input.limits == RunLimits(max_rejects=2, max_retries=3, refusal_quiet_seconds=300, history_events=10_000)
    assert OrchestrationInput("PAY-1", "PAY").limits == RunLimits(0, 0, 0, 0)  # runs from before: no limits
