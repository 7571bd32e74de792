"""`/explain`: the command added through the command table says what the run waits for, on the issue and to the CLI."""

from __future__ import annotations

from dataclasses import replace

from app.temporal import control
from tests.workflows.conftest import Harness, until, until_state
from tests.workflows.fakes import APPROVER
from webhooks.commands import Command, parse_command
from workflows.messages import CommandContext, OrchestrationInput, RunLimits, RunStatus, Source
from workflows.state import Cause, Failure, OrchestrationState, PhaseRecord
from workflows.steering import explain


def by(actor: str, delivery: str) -> CommandContext:
    return CommandContext(actor=actor, delivery_id=delivery, source=Source.COMMENT)


def answer(harness: Harness, delivery: str) -> str:
    return harness.jira.comments[next(k for k in harness.jira.comment_posts if f":answer-{delivery}" in k)]


async def test_explain_at_a_gate_and_while_working(harness: Harness) -> None:
    harness.agent.block.add("PLAN")
    handle = await harness.start(gates=["EXPLORE"], gate_timeout_seconds=3600)
    await until_state(handle, lambda s: s.pending_gate == "EXPLORE", "the EXPLORE gate")

    await control.signal(harness.client, harness.key, "explain", by(APPROVER, "x1"))
    await until(lambda: any(":answer-x1" in k for k in harness.jira.comment_posts), what="the answer")
    text = answer(harness, "x1")
    assert "waits for a person to approve EXPLORE, until 20" in text and "{{/approve [notes]}}" in text
    assert text.startswith("✅ {{/explain}} from")

    trusted = CommandContext("cli:op", source=Source.CLI, trusted=True)
    at_gate = await control.update(harness.client, harness.key, "explain", trusted)
    assert at_gate.accepted and "approve EXPLORE" in at_gate.message

    await control.signal(harness.client, harness.key, "approve", by(APPROVER, "x2"))
    await until(harness.agent.started.is_set, what="PLAN to start")
    working = await control.update(harness.client, harness.key, "explain", trusted)
    assert (
        working.accepted and "working on PLAN (attempt 1" in working.message and "nothing from you" in working.message
    )
    await control.signal(harness.client, harness.key, "cancel", by(APPROVER, "x3"))
    assert (await handle.result()).status == RunStatus.CANCELLED


def test_the_comment_grammar_reads_the_verb_off_the_command_table() -> None:
    assert parse_command("/explain", None) == Command("explain")
    assert "explain" in control.UPDATE_VERBS and control.COMMAND_WORDS["explain"] == "explain"


def test_explain_names_the_command_that_moves_the_run_on() -> None:
    input = OrchestrationInput("PAY-1", "PAY")
    state = OrchestrationState("PAY-1", "PAY", "orchestration-PAY-1", "r1", None, "2026-12-01T10:00:00+00:00")
    state.phases = [PhaseRecord("EXPLORE")]
    assert explain(state, input) == "The run is starting: it waits for nothing from you."
    paused = replace(state, paused=True, status=RunStatus.PAUSED)
    assert "{{/resume}}" in explain(paused, input)
    failure = Failure("TEST", Cause.TESTS, "2 tests failed")
    failed = replace(state, status=RunStatus.FAILED, failure=failure)
    assert explain(failed, input) == (
        "The run is blocked: TEST failed (tests): 2 tests failed. It waits for {{/retry [PHASE]}} (or {{/cancel}})."
    )
    capped = replace(failed, retries=3)
    assert explain(capped, replace(input, limits=RunLimits(max_retries=3))).endswith(
        "It was retried 3 times, the most a run may be: only {{/cancel}} moves it on."
    )
    done = replace(state, status=RunStatus.COMPLETED)
    assert explain(done, input).startswith("The run is completed: it waits for nothing.")
    gate = replace(
        state,
        status=RunStatus.WAITING_FOR_APPROVAL,
        pending_gate="EXPLORE",
        phases=[PhaseRecord("EXPLORE", finished_at="2026-12-01T10:00:00+00:00")],
    )
    assert "until 2026-12-08 10:00 UTC (then it is blocked)" in explain(gate, input)
