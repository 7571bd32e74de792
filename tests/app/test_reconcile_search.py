"""The sweep's start search (issue 13 finding 14): labels and the trigger status, and an unknown status spares the
labels."""

from __future__ import annotations

from pathlib import Path

from activities.reconcile import ReconcileActivities, ReconcileQuery
from app.jira_gateway.errors import ValidationError
from app.store.db import make_engine, make_session_factory
from app.temporal.control import Started
from tests.conftest import make_settings
from tests.workflows.conftest import NoSearch


class Search(NoSearch):
    def __init__(self, known_status: bool) -> None:
        self.known_status = known_status
        self.queries: list[str] = []

    def search_issue_keys(self, jql: str) -> list[str]:
        self.queries.append(jql)
        if jql.startswith("labels"):
            return ["PAY-1", "PAY-2"]
        if not self.known_status:
            raise ValidationError("The value 'Ready for AI' does not exist for the field 'status'.")
        return ["PAY-2", "PAY-3"]


async def never(key: str, starter: str | None) -> Started:
    raise AssertionError("not started here")


def test_labelled_issues_and_issues_in_the_trigger_status_are_found(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    settings = make_settings(tmp_path, ORCHESTRATOR_TRIGGER_STATUS="Ready for AI")
    try:
        search = Search(known_status=True)
        sweep = ReconcileActivities(search, make_session_factory(engine), settings, never)
        assert sweep.find_unorchestrated_issues(ReconcileQuery()) == ["PAY-1", "PAY-2", "PAY-3"]
        assert search.queries[1] == 'status = "Ready for AI" AND status != "Done" ORDER BY created ASC'
        # A status the site does not have (a typo in the setting): the labels are still swept.
        sweep = ReconcileActivities(Search(known_status=False), make_session_factory(engine), settings, never)
        assert sweep.find_unorchestrated_issues(ReconcileQuery()) == ["PAY-1", "PAY-2"]
    finally:
        engine.dispose()
