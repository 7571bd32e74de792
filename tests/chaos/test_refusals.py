"""One permanent Jira refusal injected into each reporting call in turn: every run ends, and says so on the issue.

Each issue gets its own refusal (a 403, 404 or 400 the first time the bot makes that kind of write to it), all runs
at once. A run may complete (the refused write said once on the issue) or fail with the Jira cause; it never hangs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from app.sandbox.people import SandboxPerson
from tests.chaos.issues import BOT, TRIGGER, bot_comments, plan_fault
from tests.chaos.report import FULL, Figures, scale
from tests.e2e.harness import close_site, eventually, open_site, start_processes
from workflows.ids import workflow_id_for
from workflows.messages import RunStatus
from workflows.orchestration import OrchestrationWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

# (what, method, path under the issue, exact path?): every kind of write the bot's reporting makes.
CALLS = [
    ("the first comment (the status comment)", "POST", "/comment", True),
    ("an edit of the status comment", "PUT", "/comment/", False),
    ("the status transition", "POST", "/transitions", True),
    ("the pull request's remote link", "POST", "/remotelink", True),
    ("the board label (issue edit)", "PUT", "", True),
    ("an issue property", "PUT", "/properties/", False),
]
REFUSALS = ["403", "404", "400"]
ENDED = {RunStatus.COMPLETED, RunStatus.FAILED}


async def test_each_reporting_call_refused_for_good_in_turn_every_run_ends_visibly(
    temporal_env: WorkflowEnvironment, tmp_path: Path, figures: Figures
) -> None:
    calls = CALLS if FULL else CALLS[: scale(len(CALLS), 3)]
    site = await open_site(temporal_env, tmp_path, agents=1)
    stack = site.stack
    try:
        await start_processes(site, [0])
        reporter = SandboxPerson(stack.jira_url, "reporter")
        keys = ["DEMO-1", "OPS-1", "DEMO-2", "OPS-2", "DEMO-3"][: len(calls)]
        while len(keys) < len(calls):
            keys.append(reporter.create(f"Refusal run {len(keys) + 1}", project="OPS"))
        for n, (key, (_, method, path, exact)) in enumerate(zip(keys, calls, strict=True)):
            kind = REFUSALS[n % len(REFUSALS)]
            plan_fault(
                stack, kind=kind, method=method, path=f"/rest/api/2/issue/{key}{path}", exact_path=exact, account=BOT
            )
        for key in keys:
            reporter.label(key, TRIGGER)
        handles: dict[str, WorkflowHandle[OrchestrationWorkflow, None]] = {
            key: site.client.get_workflow_handle(workflow_id_for(key)) for key in keys
        }

        async def all_ended() -> bool:
            try:
                states = [await h.query(OrchestrationWorkflow.get_status) for h in handles.values()]
            except RPCError:  # a run not started yet
                return False
            return all(s.status in ENDED for s in states)

        await eventually(stack, all_ended, "every run to end", scale(600, 200))
        states = {key: await h.query(OrchestrationWorkflow.get_status) for key, h in handles.items()}

        def shown(key: str) -> str:
            """How the issue shows the run's end: the status comment's, the summary, or the blocked status/label."""
            comments, fields = bot_comments(stack, key), stack.rest(f"issue/{key}?fields=status,labels")["fields"]
            marks = []
            if comments and "*Status:* Completed" in comments[0]:
                marks.append("status comment Completed")
            if comments and "*Status:* Failed" in comments[0]:
                marks.append("status comment Failed")
            if any(c.startswith("🎉") for c in comments):
                marks.append("summary")
            if fields["status"]["name"] in ("Done", "Blocked"):
                marks.append(f"issue {fields['status']['name']}")
            marks += [f"label {label}" for label in fields["labels"] if label in ("ai-done", "ai-blocked")]
            return ", ".join(marks)

        # The ending's last writes trail the state by a moment: wait until the issue shows it.
        await eventually(stack, lambda: all(shown(k) for k in keys), "every issue to show its run's end", 60)
        said = {key: shown(key) for key in keys}
    finally:
        await close_site(site)

    scenario = "One permanent Jira refusal (403, 404 or 400) in each kind of reporting call, one run per call"
    for n, (key, (what, _, _, _)) in enumerate(zip(keys, calls, strict=True)):
        state = states[key]
        ending = state.status if state.failure is None else f"{state.status} ({state.failure.cause})"
        figures.add(scenario, f"{REFUSALS[n % len(REFUSALS)]} on {what}", f"{ending}; shown: {said[key]}",
                    "ends, and the issue shows it")  # fmt: skip
    assert all(s.status in ENDED for s in states.values())
    # A run whose first comment was refused cannot say why, but the board still shows it blocked.
    assert states[keys[0]].status == RunStatus.FAILED and "issue Blocked" in said[keys[0]], said
