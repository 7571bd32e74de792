"""OrchestrationWorkflow on the time-skipping server, with the real job workflow and DB activities."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError

from activities.agent_types import AgentOutcome
from app.store.db import make_engine, make_session_factory
from app.store.models import AgentJob, Checkpoint, Orchestration
from tests.workflows.conftest import Harness, keep_history, until, until_state
from tests.workflows.fakes import (
    APPROVER,
    BOT,
    OUTSIDER,
    bad_request,
    by,
    context_of,
    credentials_refused,
    failing_tests,
    ok,
    waiting_at,
)
from workflows.messages import (
    ApproveInput,
    CancelInput,
    CommandContext,
    PauseInput,
    RejectInput,
    ResumeInput,
    RetryInput,
    RunStatus,
    Source,
)
from workflows.orchestration import OrchestrationWorkflow
from workflows.state import OrchestrationState


async def test_full_path_with_auto_proceed(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True)
    result = await handle.result()
    await keep_history(handle, "full_run")
    assert result.status == RunStatus.COMPLETED
    assert result.pr_url == f"file:///remote.git#jira/{harness.key}"
    commands = [r.command for r in harness.agent.requests if r.command not in {"cleanup"}]
    assert commands == [
        "EXPLORE", "PLAN", "CODE", "runVerification", "createPR", "TEST", "DOCUMENT", "createPR",
    ]  # fmt: skip
    jira = harness.jira
    assert len(jira.status_comments) == 1
    assert jira.statuses == ["In Progress", "Done"]
    assert list(jira.links.values()) == [f"file:///remote.git#jira/{harness.key}"]
    assert [k.split(":", 1)[1] for k in jira.comment_posts] == ["summary"]
    body = next(iter(jira.status_comments.values()))
    assert "Completed" in body and "|FIX|➖|0|" in body and "[Temporal run|http://ui" in body
    state: OrchestrationState = await handle.query(OrchestrationWorkflow.get_status)
    assert [p.outcome.value for p in state.phases] == ["succeeded"] * 4 + ["skipped", "succeeded"]


async def test_both_gates_approved_with_notes_passed_on(harness: Harness) -> None:
    handle = await harness.start()
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    # The gate comment goes out through the reporter's outbox, so it may trail the state by a moment.
    gate = "Waiting for approval to proceed before *PLAN*"
    await until(lambda: any(gate in t for t in harness.jira.texts()), what="the EXPLORE gate comment")
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "d1"), notes="focus on the API"))
    await until_state(handle, waiting_at("PLAN"), "the PLAN gate")
    plan = harness.agent.calls("PLAN")[0]
    assert context_of(plan)["approvals"][0]["text"] == "focus on the API"
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "d2")))
    result = await handle.result()
    assert result.status == RunStatus.COMPLETED
    gates = [k for k in harness.jira.comment_posts if ":gate-" in k]
    assert len(gates) == 2
    answers = [harness.jira.comments[k] for k in harness.jira.comment_posts if ":answer-" in k]
    assert len(answers) == 2 and all(a.startswith("✅") for a in answers)
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert state.record("EXPLORE").approved_by == APPROVER


async def test_reject_redoes_the_phase_with_feedback(harness: Harness) -> None:
    handle = await harness.start()
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    await handle.signal(OrchestrationWorkflow.reject, RejectInput(by(APPROVER, "r1"), feedback="look at billing too"))
    await until(lambda: len(harness.agent.calls("EXPLORE")) == 2, what="EXPLORE to run again")
    redo = harness.agent.calls("EXPLORE")[1]
    assert context_of(redo)["feedback"] == "look at billing too"
    assert redo.attempt == 2
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate again")
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "r2")))
    await until_state(handle, waiting_at("PLAN"), "the PLAN gate")
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "r3")))
    assert (await handle.result()).status == RunStatus.CANCELLED
    await keep_history(handle, "rejected_phase")
    engine = make_engine(harness.database_url)
    with make_session_factory(engine)() as session:
        explore = session.scalars(select(AgentJob).where(AgentJob.phase == "EXPLORE").order_by(AgentJob.attempt)).all()
        assert [(j.attempt, j.queue_kind, j.status) for j in explore] == [
            (1, "backlog", "completed"),
            (2, "rework", "completed"),
        ]
    engine.dispose()


async def test_pause_takes_effect_before_the_next_phase_without_preempting(harness: Harness) -> None:
    harness.agent.block.add("EXPLORE")
    handle = await harness.start(auto_proceed=True)
    await until(harness.agent.started.is_set, what="EXPLORE to start")
    await handle.signal(OrchestrationWorkflow.pause, PauseInput(by(APPROVER, "p1")))
    await until_state(handle, lambda s: s.paused, "the pause")
    harness.agent.block.clear()  # the running EXPLORE job finishes normally
    await until_state(handle, lambda s: s.status == RunStatus.PAUSED, "the hold before PLAN")
    assert harness.agent.cancelled == []
    assert harness.agent.calls("PLAN") == []
    await handle.signal(OrchestrationWorkflow.resume, ResumeInput(by(APPROVER, "p2")))
    assert (await handle.result()).status == RunStatus.COMPLETED


async def test_cancel_while_a_job_runs_cancels_the_agent_job(harness: Harness) -> None:
    harness.agent.block.add("CODE")
    handle = await harness.start(auto_proceed=True)
    await until(harness.agent.started.is_set, what="CODE to start")
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "c1"), reason="wrong issue"))
    result = await handle.result()
    assert result.status == RunStatus.CANCELLED
    await keep_history(handle, "cancel_during_job")
    assert any(job.endswith("-CODE-1") for job in harness.agent.cancelled)
    assert any(f"Run cancelled by [~accountid:{APPROVER}]: wrong issue" in t for t in harness.jira.texts())
    engine = make_engine(harness.database_url)
    with make_session_factory(engine)() as session:
        code = session.scalars(select(AgentJob).where(AgentJob.phase == "CODE")).one()
        assert code.status == "cancelled"
    engine.dispose()


async def test_gate_timeout_after_seven_days_blocks_and_fails(harness: Harness) -> None:
    handle = await harness.start()
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()  # the test server skips the 7 days while we wait
    assert "no approval or rejection within 7 days" in str(err.value.cause)
    assert harness.jira.status == "Blocked"
    texts = harness.jira.texts()
    assert any(t.startswith("❌ The run is blocked in *EXPLORE*") and "(timeout)" in t for t in texts)
    assert any(t.startswith("⌛") for t in texts)


async def test_test_fix_loop_recovers(harness: Harness) -> None:
    harness.agent.script("TEST", failing_tests, ok)
    handle = await harness.start(auto_proceed=True)
    result = await handle.result()
    await keep_history(handle, "test_fix_loop")
    assert result.status == RunStatus.COMPLETED
    assert len(harness.agent.calls("TEST")) == 2
    assert len(harness.agent.calls("FIX")) == 1
    assert context_of(harness.agent.calls("FIX")[0])["feedback"] == "FAILED test_greeting"
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert state.fix_rounds == 1


async def test_test_fix_loop_fails_after_three_rounds_then_retry_recovers(harness: Harness) -> None:
    harness.agent.script("TEST", failing_tests)
    handle = await harness.start(auto_proceed=True)
    state = await until_state(handle, lambda s: s.status == RunStatus.FAILED, "the run to be blocked")
    assert len(harness.agent.calls("FIX")) == 3
    assert len(harness.agent.calls("TEST")) == 4
    assert state.failure.cause.value == "tests"
    assert "tests still fail after 3 fix rounds" in state.failure.message
    await until(lambda: harness.jira.status == "Blocked", what="the issue to be Blocked")
    harness.agent.script("TEST", ok)
    await handle.signal(OrchestrationWorkflow.retry, RetryInput(by(APPROVER, "t1")))
    result = await handle.result()
    assert result.status == RunStatus.COMPLETED
    assert harness.jira.statuses[-2:] == ["In Progress", "Done"]


async def test_retry_of_a_failed_phase(harness: Harness) -> None:
    harness.agent.script("CODE", bad_request, ok)
    handle = await harness.start(auto_proceed=True)
    state = await until_state(handle, lambda s: s.status == RunStatus.FAILED, "CODE to fail")
    assert state.failure.phase == "CODE" and state.failure.cause.value == "agent"
    assert "unknown repo" in state.failure.message
    assert len(harness.agent.calls("CODE")) == 1  # ValidationError is not retried
    await handle.signal(OrchestrationWorkflow.retry, RetryInput(by(APPROVER, "x1"), phase="CODE"))
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert len(harness.agent.calls("EXPLORE")) == 1 and len(harness.agent.calls("CODE")) == 2


async def test_a_remote_refusing_the_agents_credentials_blocks_the_run_with_cause_permission(
    harness: Harness,
) -> None:
    harness.agent.script("CODE", credentials_refused)
    handle = await harness.start(auto_proceed=True)
    state = await until_state(handle, lambda s: s.status == RunStatus.FAILED, "CODE to fail")
    assert state.failure.phase == "CODE" and state.failure.cause.value == "permission"
    assert len(harness.agent.calls("CODE")) == 1  # PermissionDenied is not retried
    # The failure comment trails the state through the reporter's outbox.
    await until(lambda: any(body.startswith("❌") for body in harness.jira.texts()), what="the failure comment")
    comment = next(body for body in harness.jira.texts() if body.startswith("❌"))
    assert "*Cause (permission):* /srv/remote.git refused the agent's git credentials (push)" in comment


async def test_jira_authentication_failure_is_not_retried_and_fails_the_run(harness: Harness) -> None:
    harness.jira.refuse_auth = True
    handle = await harness.start(auto_proceed=True)
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    assert "401 from Jira" in str(err.value.cause)
    assert harness.agent.requests == []


async def test_unpermitted_and_bot_commands_change_nothing(harness: Harness) -> None:
    handle = await harness.start()
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(OUTSIDER, "o1")))
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(BOT, "b1")))
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(OUTSIDER, "o1")))  # redelivery
    await until(lambda: any(":answer-o1" in k for k in harness.jira.comment_posts), what="the refusal")
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert state.pending_gate == "EXPLORE"
    refusal = harness.jira.comments[next(k for k in harness.jira.comment_posts if ":answer-o1" in k)]
    assert refusal.startswith("🚫") and "May approve: reviewer" in refusal
    assert not any(":answer-b1" in k for k in harness.jira.comment_posts)
    await handle.cancel()


async def test_approve_with_nothing_waiting_is_answered(harness: Harness) -> None:
    harness.agent.block.add("EXPLORE")
    handle = await harness.start()
    await until(harness.agent.started.is_set, what="EXPLORE to start")
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "n1")))
    await until(lambda: any(":answer-n1" in k for k in harness.jira.comment_posts), what="the answer")
    answer = harness.jira.comments[next(k for k in harness.jira.comment_posts if ":answer-n1" in k)]
    assert "nothing to approve" in answer
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            OrchestrationWorkflow.request_approve, ApproveInput(CommandContext("cli:op", trusted=True))
        )
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "n2")))
    assert (await handle.result()).status == RunStatus.CANCELLED


async def test_update_path_approves_and_records_checkpoints(harness: Harness) -> None:
    handle = await harness.start(gates=["EXPLORE"])
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    result = await handle.execute_update(
        OrchestrationWorkflow.request_approve, ApproveInput(CommandContext("cli:op", source=Source.CLI, trusted=True))
    )
    assert result.accepted
    assert (await handle.result()).status == RunStatus.COMPLETED
    engine = make_engine(harness.database_url)
    with make_session_factory(engine)() as session:
        phases = set(session.scalars(select(Checkpoint.phase)).all())
        assert {"EXPLORE", "PLAN", "CODE", "TEST", "DOCUMENT"} <= phases
        row = session.scalars(select(Orchestration)).one()
        assert row.status == "completed" and row.finished_at is not None
    engine.dispose()


async def test_resume_after_pause(harness: Harness) -> None:
    handle = await harness.start()
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    await handle.signal(OrchestrationWorkflow.pause, PauseInput(by(APPROVER, "q1")))
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "q2")))
    await until_state(handle, lambda s: s.status == RunStatus.PAUSED, "the pause before PLAN")
    assert harness.agent.calls("PLAN") == []
    await handle.signal(OrchestrationWorkflow.resume, ResumeInput(by(APPROVER, "q3")))
    await until_state(handle, waiting_at("PLAN"), "PLAN after resume")
    assert len(harness.agent.calls("PLAN")) == 1
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await until(lambda: any(":cancelled" in k for k in harness.jira.comment_posts), what="the cancel comment")


async def test_each_phase_hands_its_work_on_and_the_gate_shows_it(harness: Harness) -> None:
    findings = "Files (2): greeting.py, tests/test_greeting.py\nIssue words found:\n- greeting: greeting.py"
    plan = "# Plan\n1. Add greet_issue() to greeting.py\n2. Test it in tests/test_greeting.py"
    harness.agent.script("EXPLORE", lambda r: AgentOutcome(True, "2 files", {"findings": findings}, None, None, ""))
    harness.agent.script("PLAN", lambda r: AgentOutcome(True, "plan written", {"plan": plan}, None, None, ""))
    handle = await harness.start(gates=["PLAN"])
    await until_state(handle, waiting_at("PLAN"), "the PLAN gate")
    gate = "Waiting for approval to proceed before *CODE*"
    await until(lambda: any(gate in t for t in harness.jira.texts()), what="the PLAN gate comment")
    shown = next(t for t in harness.jira.texts() if gate in t)
    assert plan in shown  # the whole plan, not its one-line summary
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "h1")))
    assert (await handle.result()).status == RunStatus.COMPLETED
    code = context_of(harness.agent.calls("CODE")[0])
    assert code["previous_outputs"] == {"EXPLORE": findings, "PLAN": plan}  # verbatim, under the phase's name
    document = context_of(harness.agent.calls("DOCUMENT")[0])
    assert document["previous_outputs"]["CODE"] == f"CODE output for {harness.key}"


async def test_a_rejected_plan_comes_back_as_v2_with_what_changed(harness: Harness) -> None:
    v1 = "1. Add greet_issue()\n2. Test it"
    v2 = "1. Add greet_issue()\n2. Test it\n3. Document it in the README"
    harness.agent.script(
        "PLAN",
        lambda r: AgentOutcome(True, "plan v1", {"plan": v1}, None, None, ""),
        lambda r: AgentOutcome(True, "plan v2", {"plan": v2}, None, None, ""),
    )
    handle = await harness.start(gates=["PLAN"])
    await until_state(handle, waiting_at("PLAN"), "the first PLAN gate")
    await handle.signal(OrchestrationWorkflow.reject, RejectInput(by(APPROVER, "v1"), feedback="add a docs step"))
    await until_state(handle, lambda s: s.pending_gate == "PLAN" and len(s.versions.get("PLAN", [])) == 2, "v2")
    second = "*PLAN v2*, after feedback from"
    await until(lambda: any(second in t for t in harness.jira.texts()), what="the v2 gate comment")
    shown = next(t for t in harness.jira.texts() if second in t)
    assert f"after feedback from [~accountid:{APPROVER}]: add a docs step" in shown
    assert "{code:diff}\n--- v1\n+++ v2\n" in shown and "\n+3. Document it in the README\n" in shown
    assert shown.count("+3. Document it") == 1 and v2 in shown  # the diff, then the whole v2
    state: OrchestrationState = await handle.query(OrchestrationWorkflow.get_status)
    assert [(v.version, v.text, v.feedback) for v in state.versions["PLAN"]] == [
        (1, v1, ""), (2, v2, "add a docs step"),
    ]  # fmt: skip
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "v2")))
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert context_of(harness.agent.calls("CODE")[0])["previous_outputs"]["PLAN"] == v2


async def test_the_board_shows_one_label_for_what_the_run_needs(harness: Harness) -> None:
    board = {"ai-running", "ai-needs-approval", "ai-blocked", "ai-done"}
    handle = await harness.start(gates=["EXPLORE"], board_labels=True)
    await until_state(handle, waiting_at("EXPLORE"), "the EXPLORE gate")
    await until(lambda: harness.jira.labels & board == {"ai-needs-approval"}, what="the needs-approval label")
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "b1")))
    assert (await handle.result()).status == RunStatus.COMPLETED
    shown = [sorted(set(labels) & board) for labels in harness.jira.label_history]
    assert shown == [["ai-running"], ["ai-needs-approval"], ["ai-running"], ["ai-done"]]  # one at a time
    assert "ai-orchestrate" in harness.jira.labels  # other labels are left alone


async def test_a_blocked_run_shows_the_blocked_label_and_a_cancelled_run_none(harness: Harness) -> None:
    harness.agent.script("EXPLORE", bad_request)
    handle = await harness.start(gates=[], board_labels=True)
    await until_state(handle, lambda s: s.status == RunStatus.FAILED, "the run to block")
    await until(lambda: "ai-blocked" in harness.jira.labels, what="the blocked label")
    assert not harness.jira.labels & {"ai-running", "ai-needs-approval", "ai-done"}
    await handle.signal(OrchestrationWorkflow.cancel, CancelInput(by(APPROVER, "b2")))
    assert (await handle.result()).status == RunStatus.CANCELLED
    assert not harness.jira.labels & {"ai-running", "ai-needs-approval", "ai-blocked", "ai-done"}


async def test_jira_refusing_the_gate_comment_ends_the_run_instead_of_waiting_unseen(harness: Harness) -> None:
    harness.agent.block.add("EXPLORE")
    handle = await harness.start(gates=["EXPLORE"], gate_timeout_seconds=30 * 86400)
    await until(harness.agent.started.is_set, what="EXPLORE to start")
    harness.jira.refuse_auth = True  # the bot lost its permission: the gate comment can never be posted
    harness.agent.block.discard("EXPLORE")
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    state: OrchestrationState = await handle.query(OrchestrationWorkflow.get_status)
    assert state.failure is not None and state.failure.cause.value == "permission"
    assert "Jira refused a write" in state.failure.message  # not a 30-day gate timeout nobody could see coming


async def test_a_command_still_being_handled_as_the_run_ends_is_answered_and_the_run_closes(harness: Harness) -> None:
    harness.agent.block.add("DOCUMENT")
    handle = await harness.start(auto_proceed=True)
    await until(harness.agent.started.is_set, what="DOCUMENT to start")
    harness.jira.steer_released.clear()  # the approver check of the next command hangs until released
    harness.jira.steering.clear()
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "late")))
    await until(harness.jira.steering.is_set, what="the approver check to start")
    harness.agent.block.discard("DOCUMENT")  # the run completes while the command is still being handled
    await asyncio.sleep(0.5)
    harness.jira.steer_released.set()
    result = await asyncio.wait_for(handle.result(), 60)  # a hang here is the run unable to close
    assert result.status == RunStatus.COMPLETED
    answer = harness.jira.comments[next(k for k in harness.jira.comment_posts if ":answer-late" in k)]
    assert "nothing to approve" in answer
