"""Who may steer a run (approve, reject, pause, resume, cancel, retry) by commenting on or transitioning its issue.

The rules, checked in this order:

1. The bot's own account (`GET /myself`) is never an approver: its events are echoes of its own writes.
2. With `ORCHESTRATOR_FORBID_SELF_APPROVAL=true`, the person who started the run may not `/approve` (or
   `/proceed`) it; the other commands stay open to them.
3. `ORCHESTRATOR_APPROVERS` is a comma-separated list of Jira account ids and group ids. An account listed by
   id may steer. Otherwise the account's groups are read from Jira (`GET /rest/api/2/user/groups?accountId=`,
   which needs the bot to have *Browse users and groups*), and membership of a listed group allows it. Groups
   are matched by their id (`groupId`), never by name: an admin can rename a group, or create a new group under
   an old name, and a name match would then let its members steer.
4. With `ORCHESTRATOR_APPROVER_PERMISSION_CHECK=true`, anyone Jira grants *Transition issues* on that very issue
   may steer (`POST /rest/api/2/permissions/check`; checking another user needs the bot to have *Administer
   Jira*).
5. Everyone else is refused, with a sentence saying who may approve. With an empty list and the permission check
   off, nobody may (the CLI and HTTP API, used by operators, do not go through this check).

The sandbox Jira puts its `reviewer` in the group whose id is `orchestrator-approvers`, which is the default
approver list when no Jira site is configured (app/config.py), so the demo works out of the box and `outsider` is
refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.config import OrchestratorSettings
from app.jira_gateway.client import JiraTransport
from app.jira_gateway.groups import group_ids
from app.jira_gateway.models import ApproverDecision, IssueSnapshot

APPROVE_VERBS = {"approve", "proceed"}


@dataclass(frozen=True)
class ApprovalPolicy:
    """The approver settings the gateway applies."""

    approvers: tuple[str, ...] = ()
    permission_check: bool = False
    forbid_self_approval: bool = False

    @classmethod
    def from_settings(cls, settings: OrchestratorSettings) -> ApprovalPolicy:
        """The policy configured by ORCHESTRATOR_APPROVERS and friends."""
        return cls(settings.approvers, settings.approver_permission_check, settings.forbid_self_approval)

    def describe(self, issue_key: str) -> str:
        """Who may steer, in a sentence for a refusal comment."""
        listed = ", ".join(self.approvers)
        parts = [f"the accounts and members of the groups (by id) {listed}"] if self.approvers else []
        if self.permission_check:
            parts.append(f"anyone Jira allows to transition {issue_key}")
        if not parts:
            return "Nobody may steer runs from Jira: ORCHESTRATOR_APPROVERS is empty."
        return "May approve: " + " and ".join(parts) + " (ORCHESTRATOR_APPROVERS)."


class ApproverCheck:
    """Applies an `ApprovalPolicy` with the Jira lookups it needs."""

    def __init__(
        self,
        http: JiraTransport,
        policy: ApprovalPolicy,
        bot_account_id: Callable[[], str],
        read_issue: Callable[[str], IssueSnapshot],
    ) -> None:
        self.http = http
        self.policy = policy
        self.bot_account_id = bot_account_id
        self.read_issue = read_issue

    def may_steer(
        self, issue_key: str, account_id: str, started_by: str | None = None, verb: str = ""
    ) -> ApproverDecision:
        """Decide whether `account_id` may send `verb` to the run on `issue_key`."""
        who = self.policy.describe(issue_key)
        if account_id == self.bot_account_id():
            return ApproverDecision(False, "that is the bot's own account", who, is_bot=True)
        if self.policy.forbid_self_approval and verb.lower() in APPROVE_VERBS and account_id == started_by:
            return ApproverDecision(False, "the person who started the run may not approve it", who)
        if account_id in self.policy.approvers:
            return ApproverDecision(True, "listed by account id in ORCHESTRATOR_APPROVERS", who)
        group = self._listed_group(account_id)
        if group is not None:
            return ApproverDecision(True, f"member of the group {group} (ORCHESTRATOR_APPROVERS)", who)
        if self.policy.permission_check and self._may_transition(issue_key, account_id):
            return ApproverDecision(True, f"Jira allows them to transition {issue_key}", who)
        return ApproverDecision(False, "not an approver", who)

    def _listed_group(self, account_id: str) -> str | None:
        if not self.policy.approvers:
            return None
        listed = set(self.policy.approvers)
        return next((group for group in group_ids(self.http, account_id) if group in listed), None)

    def _may_transition(self, issue_key: str, account_id: str) -> bool:
        issue = self.read_issue(issue_key)
        issue_id = int(issue.issue_id)
        answer = self.http.post(
            "permissions/check",
            {
                "accountId": account_id,
                "projectPermissions": [{"permissions": ["TRANSITION_ISSUES"], "issues": [issue_id]}],
            },
        )
        for grant in (answer or {}).get("projectPermissions") or []:
            if grant.get("permission") == "TRANSITION_ISSUES" and issue_id in (grant.get("issues") or []):
                return True
        return False
