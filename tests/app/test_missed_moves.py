"""Which moves into the approve status the reconciliation sweep sends (issue 13 finding 14): only one made after
the gate began, by a person, old enough that no webhook delivery of it can still act, and only once."""

from __future__ import annotations

from datetime import datetime, timedelta

from activities.missed_commands import ApproveMoves, MissedCommandActivities, MissedQuery, ParsedCommand
from app.jira_gateway.errors import ValidationError
from app.jira_gateway.models import Comment, StatusMove
from app.store.db import make_engine, make_session_factory
from app.store.models import Orchestration, utcnow
from workflows.messages import CommandContext, Source

KEY = "PAY-7"
REVIEWER = "712020:0f3c2d1e-aaaa-4bbb-8ccc-000000000001"


def jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Jira:
    def __init__(self, moves: list[StatusMove]) -> None:
        self.moves = moves

    def search_issue_keys(self, jql: str) -> list[str]:
        return [KEY]

    def list_comments(self, issue_key: str) -> list[Comment]:
        return []

    def bot_account_id(self) -> str:
        return "bot"

    def status_moves(self, issue_key: str) -> list[StatusMove]:
        return list(self.moves)

    def trigger_author(self, issue_key: str, label: str, status: str | None) -> str | None:
        return None


async def test_only_a_settled_move_made_at_the_waiting_gate_approves_it_once(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    now = utcnow()
    gate_began = now - timedelta(hours=3)
    with factory.begin() as session:
        session.add(
            Orchestration(
                issue_key=KEY,
                project_key="PAY",
                temporal_workflow_id=f"orchestration-{KEY}",
                temporal_run_id="r1",
                status="running",
                created_at=now - timedelta(hours=5),
            )
        )
    moves = [
        StatusMove("10", REVIEWER, jira_time(now - timedelta(hours=4)), "Approved"),  # before the gate began
        StatusMove("11", "bot", jira_time(now - timedelta(hours=2, minutes=30)), "Approved"),  # the bot's own
        StatusMove("12", REVIEWER, jira_time(now - timedelta(hours=2, minutes=20)), "In Progress"),  # elsewhere
        StatusMove("13", REVIEWER, jira_time(now - timedelta(hours=2, minutes=10)), "approved"),  # this one
        StatusMove("14", REVIEWER, jira_time(now - timedelta(minutes=10)), "Approved"),  # a delivery may yet act
    ]
    sent: list[tuple[str, str, CommandContext]] = []

    async def send(key: str, verb: str, context: CommandContext, text: str, argument: str | None) -> None:
        sent.append((key, verb, context))

    async def gate_since(key: str) -> datetime | None:
        return gate_began

    def never(body: str, bot: str) -> ParsedCommand | None:
        return None

    policy = ApproveMoves(timedelta(hours=24), "Approved", settle_after=timedelta(hours=2))
    sweep = MissedCommandActivities(Jira(moves), factory, policy, never, send, gate_since)
    try:
        found = sweep.find_missed_commands(MissedQuery())
        assert [c.history_id for c in found.commands] == ["13"]
        assert await sweep.send_missed_commands(found) == [f"{KEY} /approve"]
        assert [(k, v, c.actor, c.source, c.delivery_id) for k, v, c in sent] == [
            (KEY, "approve", REVIEWER, Source.TRANSITION, f"reconcile-transition-{KEY}-13")
        ]
        assert sweep.find_missed_commands(MissedQuery()).commands == []  # claimed: never again

        # The same move seen for a gate that began after it (an earlier gate was approved meanwhile): not sent.
        fresh = StatusMove("15", REVIEWER, jira_time(now - timedelta(hours=2, minutes=5)), "Approved")

        async def gate_after(key: str) -> datetime | None:
            return now - timedelta(hours=1)

        later = MissedCommandActivities(Jira([fresh]), factory, policy, never, send, gate_after)
        assert await later.send_missed_commands(later.find_missed_commands(MissedQuery())) == []
    finally:
        engine.dispose()


class GoneIssue(Jira):
    """Jira refuses a query naming an issue that no longer exists, as it does for `key in (...)`."""

    def search_issue_keys(self, jql: str) -> list[str]:
        if "GONE-1" in jql:
            raise ValidationError("An issue with key 'GONE-1' does not exist for field 'key'.")
        return [KEY]


async def test_a_deleted_issue_does_not_stop_the_sweep(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for key in (KEY, "GONE-1"):
            session.add(
                Orchestration(
                    issue_key=key,
                    project_key=key.split("-")[0],
                    temporal_workflow_id=f"orchestration-{key}",
                    temporal_run_id=f"r-{key}",
                    status="running",
                )
            )
    comment = Comment("900", REVIEWER, "/pause", jira_time(utcnow()))

    class Commented(GoneIssue):
        def list_comments(self, issue_key: str) -> list[Comment]:
            return [comment] if issue_key == KEY else []

    async def gate_since(key: str) -> datetime | None:
        return None

    def pause(body: str, bot: str) -> ParsedCommand | None:
        return ParsedCommand("pause") if body == "/pause" else None

    async def send(key: str, verb: str, context: CommandContext, text: str, argument: str | None) -> None:
        pass

    sweep = MissedCommandActivities(Commented([]), factory, ApproveMoves(timedelta(hours=1)), pause, send, gate_since)
    try:
        assert [(c.issue_key, c.verb) for c in sweep.find_missed_commands(MissedQuery()).commands] == [(KEY, "pause")]
    finally:
        engine.dispose()
