"""Who may start a run, and the live-run caps (issue 13 finding 13), decided on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from activities.reconcile import ReconcileActivities, StartRequest
from activities.starts import StartCheck, StartPolicy, refusal_text
from app.config.starts import StartSettings
from app.store.db import make_engine, make_session_factory
from app.store.models import Orchestration, utcnow
from app.temporal.control import Started
from tests.conftest import make_settings
from tests.workflows.conftest import NoSearch

LEAD = "712020:0f3c2d1e-aaaa-4bbb-8ccc-000000000001"
DEV = "712020:0f3c2d1e-aaaa-4bbb-8ccc-000000000002"
STRANGER = "712020:0f3c2d1e-aaaa-4bbb-8ccc-000000000003"
GROUP = "9d1b3c5e-1111-4222-8333-444455556666"


class Groups:
    """DEV is in GROUP (by id); a group NAMED like the id does not count."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def group_ids(self, account_id: str) -> tuple[str, ...]:
        self.asked.append(account_id)
        return (GROUP,) if account_id == DEV else ()


PolicyFor = Callable[[StartSettings], tuple[StartPolicy, Groups]]


def run(key: str, status: str, started_by: str, finished: bool = False) -> Orchestration:
    return Orchestration(
        issue_key=key,
        project_key=key.split("-")[0],
        temporal_workflow_id=f"orchestration-{key}",
        temporal_run_id=f"run-{key}-{status}",
        status=status,
        started_by=started_by,
        finished_at=utcnow() if finished else None,
    )


@pytest.fixture
def policy_for(database_url: str) -> Iterator[PolicyFor]:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add_all(
            [
                run("PAY-1", "running", LEAD),
                run("PAY-2", "waiting_for_approval", DEV),
                run("PAY-3", "failed", DEV),  # failed, not ended: it waits for /retry, so it is live
                run("PAY-4", "completed", DEV, finished=True),
                run("PAY-5", "failed", DEV, finished=True),
                run("OPS-1", "paused", LEAD),
            ]
        )
    groups = Groups()

    def policy_for(settings: StartSettings) -> tuple[StartPolicy, Groups]:
        return StartPolicy(groups, factory, settings), groups

    yield policy_for
    engine.dispose()


def test_only_listed_accounts_and_members_of_listed_groups_may_start(policy_for: PolicyFor) -> None:
    policy, groups = policy_for(StartSettings(starters=(LEAD, GROUP)))
    assert policy.decide(StartCheck("PAY-9", "PAY", LEAD)).allowed
    assert groups.asked == []  # listed by account id: no Jira call
    assert policy.decide(StartCheck("PAY-9", "PAY", DEV)).allowed
    refused = policy.decide(StartCheck("PAY-9", "PAY", STRANGER))
    assert (
        not refused.allowed and refused.reason == f"[~accountid:{STRANGER}] may not start runs (ORCHESTRATOR_STARTERS)"
    )
    assert not policy.decide(StartCheck("PAY-9", "PAY", None)).allowed  # nobody known: nobody listed
    # An issue that already has a live run passes: the start keeps that run and starts nothing.
    assert policy.decide(StartCheck("PAY-1", "PAY", STRANGER)).allowed


def test_live_runs_are_capped_per_project_and_per_person(policy_for: PolicyFor) -> None:
    policy, _ = policy_for(StartSettings(max_runs_per_project=3))
    full = policy.decide(StartCheck("PAY-9", "PAY", STRANGER))  # PAY-1, PAY-2, PAY-3 are live
    assert not full.allowed and full.reason == "PAY already has 3 live runs (ORCHESTRATOR_MAX_RUNS_PER_PROJECT)"
    assert "⛔ No run was started: PAY already has 3 live runs" in refusal_text(full)
    assert policy.decide(StartCheck("OPS-9", "OPS", STRANGER)).allowed
    policy, _ = policy_for(StartSettings(max_runs_per_person=2))
    assert not policy.decide(StartCheck("OPS-9", "OPS", DEV)).allowed  # PAY-2 and PAY-3; ended runs do not count
    assert policy.decide(StartCheck("OPS-9", "OPS", LEAD)).allowed is False  # PAY-1 and OPS-1
    assert policy.decide(StartCheck("OPS-9", "OPS", STRANGER)).allowed


def test_start_settings(tmp_path: Path) -> None:
    assert not make_settings(tmp_path).starts.checked  # unset: anyone may start, no check
    settings = make_settings(
        tmp_path,
        ORCHESTRATOR_STARTERS=f"{LEAD}, {GROUP}",
        ORCHESTRATOR_MAX_RUNS_PER_PROJECT="5",
        ORCHESTRATOR_MAX_RUNS_PER_PERSON="2",
    )
    assert settings.starts == StartSettings((LEAD, GROUP), 5, 2) and settings.starts.checked


class Labellers(NoSearch):
    """Who added the trigger label, as the issues' changelogs say."""

    def trigger_author(self, issue_key: str, label: str, status: str | None) -> str | None:
        return {"OPS-7": LEAD, "OPS-8": STRANGER}.get(issue_key)


async def test_the_reconciliation_sweep_starts_only_what_the_policy_allows(
    policy_for: PolicyFor, tmp_path: Path
) -> None:
    started: list[tuple[str, str | None]] = []

    async def start(key: str, starter: str | None) -> Started:
        started.append((key, starter))
        return Started(f"orchestration-{key}", "r", True)

    settings = make_settings(tmp_path)
    policy, _ = policy_for(StartSettings(max_runs_per_project=3))
    sweep = ReconcileActivities(Labellers(), policy.session_factory, settings, start, policy)
    outcomes = await sweep.start_orchestrations(StartRequest(["PAY-9", "OPS-9"]))
    assert started == [("OPS-9", None)]  # PAY is at its cap: a later sweep starts PAY-9 once there is room
    assert outcomes[0].refused == "PAY already has 3 live runs (ORCHESTRATOR_MAX_RUNS_PER_PROJECT)"
    # With a starter list, the starter is whoever added the label (the changelog); nobody known: not started.
    policy, _ = policy_for(StartSettings(starters=(LEAD,)))
    sweep = ReconcileActivities(Labellers(), policy.session_factory, settings, start, policy)
    outcomes = await sweep.start_orchestrations(StartRequest(["OPS-7", "OPS-8", "OPS-9"]))
    assert [o.started for o in outcomes] == [True, False, False]
    assert started[1:] == [("OPS-7", LEAD)]  # the run is started by the person who labelled it
