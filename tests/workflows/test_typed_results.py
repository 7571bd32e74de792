"""Typed results through the orchestration: shown at the gate, handed on, counted in the status and the summary."""

from __future__ import annotations

from dataclasses import asdict, replace

from activities.agent_types import AgentCommand, AgentOutcome
from tests.wiki_text import unescaped
from tests.workflows.conftest import Harness, keep_history, until, until_state
from tests.workflows.fakes import APPROVER, context_of, failing_tests, ok, typed
from workflows.messages import ApproveInput, CommandContext, RejectInput, RunStatus, Source
from workflows.orchestration import OrchestrationWorkflow
from workflows.results import PlanStep

GATE = "Waiting for approval to proceed before *CODE*"


def by(delivery: str) -> CommandContext:
    return CommandContext(actor=APPROVER, delivery_id=delivery, source=Source.COMMENT)


async def test_the_gate_shows_the_typed_plan_and_later_phases_get_every_result(harness: Harness) -> None:
    harness.agent.script("TEST", failing_tests, ok)
    handle = await harness.start(gates=["PLAN"])
    await until_state(handle, lambda s: s.pending_gate == "PLAN", "the PLAN gate")
    await until(lambda: any(GATE in t for t in harness.jira.texts()), what="the PLAN gate comment")
    gate = unescaped(next(t for t in harness.jira.texts() if GATE in t))
    plan = typed("PLAN").plan
    assert plan is not None
    for number, step in enumerate(plan.steps, 1):  # numbered wiki list items, files in monospace
        assert f"# {step.what}" in gate, f"step {number} is not on the gate"
    assert "#* where: {{issue_demo_1.py}}" in gate and "*Risk:* low" in gate
    assert "*PLAN output:*" not in gate  # the typed steps are the plan: no second copy of the text

    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by("t1"), "looks right"))
    result = await handle.result()
    await keep_history(handle, "typed_results")
    assert result.status == RunStatus.COMPLETED

    code = context_of(harness.agent.calls("CODE")[0])
    assert code["previous_results"]["PLAN"] == asdict(typed("PLAN"))  # the approved plan, verbatim and typed
    assert code["previous_results"]["EXPLORE"] == asdict(typed("EXPLORE"))
    assert [a["text"] for a in code["approvals"]] == ["looks right"]
    fix = context_of(harness.agent.calls("FIX")[0])
    assert fix["previous_results"]["TEST"] == asdict(typed("TEST-failing"))  # the failing tests, by name

    state = await handle.query(OrchestrationWorkflow.get_status)
    assert set(state.results) == {"EXPLORE", "PLAN", "CODE", "TEST", "FIX", "DOCUMENT"}
    status = unescaped(next(iter(harness.jira.status_comments.values())))
    assert "2 passed / 0 failed" in status and "2 files, +16 −0" in status
    summary = next(t for t in harness.jira.texts() if t.startswith("🎉"))
    assert "*Tests 2 passed / 0 failed · 2 files changed, +17 −1*" in summary
    assert f"approved by [~accountid:{APPROVER}]" in summary


async def test_a_rejected_typed_plan_shows_the_diff_of_its_steps(harness: Harness) -> None:
    first = typed("PLAN")
    assert first.plan is not None
    extra = PlanStep("Document greet_issue in the README.", ["README.md"], "the README names greet_issue")
    second = replace(first, plan=replace(first.plan, steps=[*first.plan.steps, extra]))

    def planned(result: object) -> object:
        return lambda r: replace(ok(r), result=result)

    harness.agent.script("PLAN", planned(first), planned(second))
    handle = await harness.start(gates=["PLAN"])
    await until_state(handle, lambda s: s.pending_gate == "PLAN", "the PLAN gate")
    await handle.signal(OrchestrationWorkflow.reject, RejectInput(by("r1"), "add a step for docs"))
    await until(lambda: any("*PLAN v2*" in t for t in harness.jira.texts()), what="the v2 gate")
    v2 = unescaped(next(t for t in harness.jira.texts() if "*PLAN v2*" in t))
    assert f"after feedback from [~accountid:{APPROVER}]: add a step for docs" in v2
    assert "+5. Document greet_issue in the README. [where: README.md] [verify: the README names greet_issue]" in v2
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert [v.version for v in state.versions["PLAN"]] == [1, 2]
    await handle.cancel()


async def test_a_malformed_result_blocks_the_phase_with_the_reason(harness: Harness) -> None:
    def malformed(request: AgentCommand) -> AgentOutcome:
        # What the dispatch activity returns when the document does not meet the schema (test_typed_results in
        # tests/agent drives the real activity to this outcome).
        return AgentOutcome(
            False,
            "explored",
            {},
            "INVALID_RESULT",
            "the agent's EXPLORE result does not meet the result schema: $.explore.affected_files: 3 is not of "
            "type 'array'",
            "",
        )

    harness.agent.script("EXPLORE", malformed)
    handle = await harness.start()
    await until_state(handle, lambda s: s.status == RunStatus.FAILED, "the block")
    state = await handle.query(OrchestrationWorkflow.get_status)
    assert state.failure is not None and state.failure.cause.value == "agent"
    blocked = next(t for t in harness.jira.texts() if t.startswith("❌"))
    assert "does not meet the result schema" in unescaped(blocked) and "affected_files" in unescaped(blocked)
    assert len(harness.agent.calls("EXPLORE")) == 1  # a verdict on the work: not retried behind the person's back
    await handle.cancel()


async def test_a_plan_too_long_for_a_comment_is_attached_whole_and_the_gate_stays_within_the_limit(
    harness: Harness,
) -> None:
    long = typed("PLAN")
    assert long.plan is not None
    steps = [
        PlanStep(f"Step {n}: " + "change the retry cap " * 45, [f"src/module_{n}.py"], "tests pass") for n in range(200)
    ]
    long = replace(long, plan=replace(long.plan, steps=steps))
    harness.agent.script("PLAN", lambda r: replace(ok(r), result=long))
    handle = await harness.start(gates=["PLAN"])
    await until_state(handle, lambda s: s.pending_gate == "PLAN", "the PLAN gate")
    await until(lambda: any(GATE in t for t in harness.jira.texts()), what="the PLAN gate comment")
    gate = next(t for t in harness.jira.texts() if GATE in t)
    name = f"{harness.key}-PLAN-v1.md"
    assert len(gate) < 32_767 and f"attached to this issue as {{{{{name}}}}}" in unescaped(gate)
    assert "# Step 0: change" in unescaped(gate) and "# Step 199" not in unescaped(gate)  # whole lines, from the top
    attached = harness.jira.attachments[name]
    assert all(f"{n + 1}. Step {n}: " in attached for n in range(200))  # every step, in the file
    gate_key = next(k for k in harness.jira.comment_posts if k.endswith(":gate-PLAN-1"))
    writes = harness.jira.writes
    assert writes.index(f"attachment:{name}") < writes.index(f"comment:{gate_key}")  # the file is there first
    await handle.cancel()
