"""The run's pull request (FORGE set): once the phases are done, open or update the one for jira/<KEY>.

The forge activity finds the head branch's pull request before it creates one, so a retried activity, a worker
killed mid-call, or a re-run of the issue updates the same pull request. Its web URL replaces the pushed
branch as `state.pr_url`, so the issue's remote link and the final summary name the pull request. A refusal
blocks the run in DOCUMENT, cause `permission` for a refused token, so `/retry` tries again once it is fixed.
Behind `workflow.patched("forge-pull-request")`: runs from before never call the forge.
"""

from __future__ import annotations

import json

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.policies import FORGE_HEARTBEAT, FORGE_RETRY, FORGE_TIMEOUT
from workflows.run_base import RunBase
from workflows.state import Cause, Failure
from workflows.versions import released

with workflow.unsafe.imports_passed_through():
    from activities.forge import Approver, ForgeActivities, PullRequestInput, PullRequestText

PATCH = "forge-pull-request"
BRANCH_PREFIX = "jira/"  # the agents' issue branch (app/agent_client/protocol.py branch_for)


class PullRequests(RunBase):
    """The pull request step of `OrchestrationWorkflow` (a mixin)."""

    async def _open_pull_request(self) -> Failure | None:
        """Open or update the pull request of the pushed branch; a Failure when the forge refuses it for good."""
        if not self.input.forge or self.state.pr_url is None or not released(PATCH, self.input.lean):
            return None
        self.state.step = "opening the pull request"
        self._report()
        try:
            pull = await workflow.execute_activity_method(
                ForgeActivities.open_pull_request,
                PullRequestInput(BRANCH_PREFIX + self.input.issue_key, self._pull_request_text()),
                start_to_close_timeout=FORGE_TIMEOUT,
                heartbeat_timeout=FORGE_HEARTBEAT,
                retry_policy=FORGE_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            denied = isinstance(cause, ApplicationError) and cause.type == "ForgePermission"
            return Failure(
                "DOCUMENT",
                Cause.PERMISSION if denied else Cause.INFRASTRUCTURE,
                f"the forge did not take the pull request: {message}",
            )
        self.state.pr_url = pull.url
        return None

    def _pull_request_text(self) -> PullRequestText:
        issue = json.loads(self.memory.issue_text or "{}")
        results = self.state.results
        plan, code, fix, test = (results.get(p) for p in ("PLAN", "CODE", "FIX", "TEST"))
        return PullRequestText(
            issue_key=self.input.issue_key,
            summary=str(issue.get("summary") or "") if isinstance(issue, dict) else "",
            plan=plan.plan if plan else None,
            changes=code.code if code else None,
            fix=fix.fix if fix else None,
            tests=test.test if test else None,
            approvers=[Approver(a.phase, a.actor, a.at) for a in self.state.approvals if a.decision == "approve"],
        )
