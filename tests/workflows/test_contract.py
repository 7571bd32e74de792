"""What the seed fixes, read off a real run rather than the code: the agent retry policy as Temporal recorded it,
each phase's roles as the agent received them, and what `/status` answers."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType

from tests.workflows.conftest import Harness, until, until_state
from tests.workflows.fakes import APPROVER
from workflows.ids import workflow_id_for
from workflows.messages import ApproveInput, CommandContext, RunStatus, Source, StatusInput
from workflows.orchestration import OrchestrationWorkflow
from workflows.phases import PHASE_ORDER, PHASE_SPECS

SEED_PHASE_ROLES = {
    "EXPLORE": ["triage-agent", "requirements-analyzer"],
    "PLAN": ["planner", "architect", "task-enricher"],
    "CODE": ["code-implementer", "commit-tracker"],
    "TEST": ["test-runner", "coverage-analyzer"],
    "FIX": ["bug-fixer", "code-reviewer"],
    "DOCUMENT": ["docs-writer", "confluence-manager"],
}


def by(actor: str, delivery: str) -> CommandContext:
    return CommandContext(actor=actor, delivery_id=delivery, source=Source.COMMENT)


async def test_agent_work_runs_under_the_seeds_retry_policy_as_recorded(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True)
    assert (await handle.result()).status == RunStatus.COMPLETED
    jobs = [r.job_id for r in harness.agent.requests if r.command == "EXPLORE"]
    job_handle = harness.client.get_workflow_handle(f"job-{jobs[0]}")
    history = await job_handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "execute_agent_job"
    ]
    assert scheduled, "the job ran no agent command"
    policy = scheduled[0].retry_policy
    assert policy.initial_interval.ToSeconds() == 5
    assert policy.backoff_coefficient == 2.0
    assert policy.maximum_interval.ToSeconds() == 300
    assert policy.maximum_attempts == 3
    assert set(policy.non_retryable_error_types) == {"ValidationError", "AuthenticationError"}
    assert scheduled[0].heartbeat_timeout.ToSeconds() == 300  # the seed's 5 minutes
    assert scheduled[0].start_to_close_timeout.ToSeconds() == 2 * 3600  # the seed's 2 hours


async def test_each_phase_reaches_its_agents_with_the_seeds_roles(harness: Harness) -> None:
    handle = await harness.start(auto_proceed=True)
    assert (await handle.result()).status == RunStatus.COMPLETED
    seen = {r.command: r.roles for r in harness.agent.requests if r.command in PHASE_SPECS}
    assert seen == {phase: SEED_PHASE_ROLES[phase] for phase in PHASE_ORDER if phase != "FIX"}  # FIX: tests passed
    assert {phase: list(PHASE_SPECS[phase].roles) for phase in PHASE_ORDER} == SEED_PHASE_ROLES


async def test_status_answers_with_the_runs_state(harness: Harness) -> None:
    handle = await harness.start(gates=["EXPLORE"])
    await until_state(handle, lambda s: s.pending_gate == "EXPLORE", "the EXPLORE gate")
    await handle.signal(OrchestrationWorkflow.status, StatusInput(by(APPROVER, "s1")))
    await until(lambda: any(":answer-s1" in k for k in harness.jira.comment_posts), what="the /status answer")
    answer = harness.jira.comments[next(k for k in harness.jira.comment_posts if ":answer-s1" in k)]
    assert answer == (
        f"✅ {{{{/status}}}} from [~accountid:{APPROVER}] (comment): "
        "The run is waiting for approval after EXPLORE; current phase EXPLORE; done: EXPLORE."
    )
    await handle.signal(OrchestrationWorkflow.approve, ApproveInput(by(APPROVER, "s2")))
    assert (await handle.result()).status == RunStatus.COMPLETED
    assert workflow_id_for(harness.key) == handle.id
