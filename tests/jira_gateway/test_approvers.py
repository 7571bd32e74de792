"""The approver rules (app/jira_gateway/approvers.py) against faked Jira REST."""

from __future__ import annotations

import json

import pytest
import responses

from app.config import JiraSettings
from app.jira_gateway import ApprovalPolicy
from tests.jira_gateway.conftest import API, BOT, FakeClock, issue_body, make_gateway

GROUPS = f"{API}/user/groups"


def _policy(*approvers: str, check: bool = False, no_self: bool = False) -> ApprovalPolicy:
    return ApprovalPolicy(approvers=approvers, permission_check=check, forbid_self_approval=no_self)


def test_the_bot_is_never_an_approver(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    gateway = make_gateway(jira_settings, clock, _policy(BOT, check=True))
    decision = gateway.may_steer("PAY-1", BOT, None, "approve")
    assert (decision.allowed, decision.is_bot) == (False, True)
    assert not rsps.calls


def test_listed_account_id_may_steer(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    gateway = make_gateway(jira_settings, clock, _policy("acc-lead", "jira-admins"))
    decision = gateway.may_steer("PAY-1", "acc-lead", None, "approve")
    assert decision.allowed and "account id" in decision.reason
    assert not rsps.calls


def test_member_of_a_listed_group_may_steer(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    rsps.get(GROUPS, json=[{"name": "Jira-Admins", "groupId": "6f1c2b7e-0b8e-4c55-9d3a-2d1c1f0a9b11"}])
    gateway = make_gateway(jira_settings, clock, _policy("acc-lead", "6f1c2b7e-0b8e-4c55-9d3a-2d1c1f0a9b11"))
    decision = gateway.may_steer("PAY-1", "acc-x", None, "reject")
    assert decision.allowed and "6f1c2b7e-0b8e-4c55-9d3a-2d1c1f0a9b11" in decision.reason
    assert "accountId=acc-x" in rsps.calls[0].request.url


def test_a_group_is_matched_by_id_never_by_name(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    # A group renamed to (or created under) a listed name is another group: its members may not steer.
    rsps.get(GROUPS, json=[{"name": "jira-admins", "groupId": "0d4f5e6a-aaaa-4bbb-8ccc-000000000001"}])
    gateway = make_gateway(jira_settings, clock, _policy("acc-lead", "jira-admins"))
    assert not gateway.may_steer("PAY-1", "acc-x", None, "approve").allowed


def test_everyone_else_is_refused_with_who_may(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    rsps.get(GROUPS, json=[{"name": "jira-users"}])
    gateway = make_gateway(jira_settings, clock, _policy("acc-lead", "jira-admins"))
    decision = gateway.may_steer("PAY-1", "acc-outsider", None, "approve")
    assert not decision.allowed and not decision.is_bot
    assert "jira-admins" in decision.who_may_approve


def test_unknown_account_has_no_groups(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    rsps.get(GROUPS, status=404, json={"errorMessages": ["Specified user does not exist"], "errors": {}})
    gateway = make_gateway(jira_settings, clock, _policy("jira-admins"))
    assert not gateway.may_steer("PAY-1", "acc-gone", None, "approve").allowed


def test_nobody_when_nothing_is_configured(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    decision = make_gateway(jira_settings, clock, _policy()).may_steer("PAY-1", "acc-x", None, "approve")
    assert not decision.allowed and "ORCHESTRATOR_APPROVERS is empty" in decision.who_may_approve


@pytest.mark.parametrize(("granted", "allowed"), [([20431], True), ([], False)])
def test_permission_check_asks_jira_about_that_issue(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock, granted: list[int], allowed: bool
) -> None:
    rsps.get(f"{API}/issue/PAY-1", json=issue_body())
    rsps.post(
        f"{API}/permissions/check",
        json={"projectPermissions": [{"permission": "TRANSITION_ISSUES", "issues": granted, "projects": []}]},
    )
    gateway = make_gateway(jira_settings, clock, _policy(check=True))
    assert gateway.may_steer("PAY-1", "acc-dev", None, "approve").allowed is allowed
    sent = json.loads(next(c.request.body for c in rsps.calls if "permissions/check" in c.request.url))
    assert sent == {
        "accountId": "acc-dev",
        "projectPermissions": [{"permissions": ["TRANSITION_ISSUES"], "issues": [20431]}],
    }


def test_self_approval_can_be_forbidden(
    jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock
) -> None:
    gateway = make_gateway(jira_settings, clock, _policy("acc-lead", no_self=True))
    assert not gateway.may_steer("PAY-1", "acc-lead", "acc-lead", "approve").allowed
    assert gateway.may_steer("PAY-1", "acc-lead", "acc-lead", "cancel").allowed
    assert gateway.may_steer("PAY-1", "acc-lead", "acc-other", "approve").allowed
