"""Fixture → intent, as one table; then the command grammar's edge cases as another."""

from __future__ import annotations

import pytest

from tests.webhooks.jira_payloads import (
    APPROVE_STATUS,
    BOT,
    MARCO,
    PRIYA,
    TRIGGER_STATUS,
    fixture_body,
    fixture_names,
)
from webhooks.commands import Command, NotACommand, UnknownCommand, parse_command
from webhooks.events import read_jira_delivery
from webhooks.intents import (
    JIRA_INTENT_PARSERS,
    CommandRequested,
    Ignored,
    IntakeRules,
    Intent,
    Origin,
    StartRequested,
    UnknownCommandWritten,
    intent_for,
)
from workflows.messages import Source

RULES = IntakeRules("ai-orchestrate", TRIGGER_STATUS, APPROVE_STATUS, BOT)
D = "delivery-1"
KEY = "PAY-317"


def by(actor: str, source: Source, comment_id: str | None = None) -> Origin:
    return Origin(KEY, actor, D, source, comment_id)


def said(comment_id: str) -> Origin:
    return by(MARCO, Source.COMMENT, comment_id)


TABLE: dict[str, Intent | Ignored] = {
    "issue_updated__label_added_among_others": StartRequested(by(PRIYA, Source.LABEL)),
    "issue_updated__label_added_to_none": StartRequested(by(PRIYA, Source.LABEL)),
    "issue_updated__label_removed": Ignored(
        "trigger label removed: that does not stop a run (comment /cancel to stop it)"
    ),
    "issue_updated__other_label_added": Ignored("no change we act on (only the trigger label and statuses count)"),
    "issue_updated__label_added_by_bot": Ignored("caused by the bot's own account"),
    "issue_created__with_label": StartRequested(by(PRIYA, Source.CREATED)),
    "issue_created__without_label": Ignored("created without the trigger label"),
    "issue_updated__status_to_trigger": StartRequested(by(PRIYA, Source.TRANSITION)),
    "issue_updated__status_to_approve": CommandRequested(by(PRIYA, Source.TRANSITION), "approve"),
    "issue_updated__status_other": Ignored("moved to a status that neither starts nor approves a run"),
    "issue_updated__status_resolved": Ignored("moved to a status that neither starts nor approves a run"),
    "issue_updated__unrelated_field": Ignored("no change we act on (only the trigger label and statuses count)"),
    "comment_created__approve_with_notes": CommandRequested(
        said("51877"), "approve", "Looks right; keep the retry cap at 5", "LOOKS"
    ),
    "comment_created__proceed": CommandRequested(said("51878"), "approve"),
    "comment_created__reject_with_feedback": CommandRequested(
        said("51879"), "reject", "The plan misses the idempotency key.\nAlso cover the 429 path.", "THE"
    ),
    "comment_created__reject_without_feedback": CommandRequested(said("51880"), "reject", ""),
    "comment_created__pause": CommandRequested(said("51881"), "pause"),
    "comment_created__resume": CommandRequested(said("51882"), "resume"),
    "comment_created__cancel": CommandRequested(said("51883"), "cancel", "wrong ticket", "WRONG"),
    "comment_created__retry_phase": CommandRequested(said("51884"), "retry", "plan", "PLAN"),
    "comment_created__retry": CommandRequested(said("51885"), "retry"),
    "comment_created__status": CommandRequested(said("51886"), "status", "please", "PLEASE"),
    "comment_created__command_further_down": Ignored("no command on the first line"),
    "comment_created__mention_bot_then_command": CommandRequested(said("51888"), "approve", "ship it", "SHIP"),
    "comment_created__mention_other_then_command": Ignored("the first line mentions someone other than the bot"),
    "comment_created__adf_approve": CommandRequested(
        said("51893"), "approve", "go ahead\nThe plan covers the retry budget.", "GO"
    ),
    "comment_created__bot_authored_command": Ignored("caused by the bot's own account"),
    "comment_created__plain_remark": Ignored("no command on the first line"),
    "comment_created__unknown_command": UnknownCommandWritten(said("51891"), "deploy"),
    "comment_updated__edited_command": Ignored(
        "comment edits are not commands (the comment was handled when it was created)"
    ),
    "issue_updated__comment_twin": CommandRequested(
        said("51877"), "approve", "Looks right; keep the retry cap at 5", "LOOKS"
    ),
    "issue_updated__comment_edited_twin": Ignored("comment edited or deleted: not a command"),
    "worklog_created__logged": Ignored("worklog_created events are not acted on"),
    "project_created__unknown_event": Ignored("unhandled event project_created"),
}
MALFORMED = {name for name in fixture_names() if "malformed" in name}


def test_every_fixture_is_in_the_table_or_malformed() -> None:
    assert set(fixture_names()) == set(TABLE) | MALFORMED


@pytest.mark.parametrize(("name", "expected"), TABLE.items(), ids=list(TABLE))
def test_fixture_gives_intent(name: str, expected: Intent | Ignored) -> None:
    event = read_jira_delivery(fixture_body(name), D, JIRA_INTENT_PARSERS)
    assert intent_for(event, RULES) == expected


def test_until_the_bot_is_known_its_commands_and_any_mention_pass_to_the_workflow() -> None:
    unknown = IntakeRules("ai-orchestrate", TRIGGER_STATUS, APPROVE_STATUS, None)
    bot_said = read_jira_delivery(fixture_body("comment_created__bot_authored_command"), D, JIRA_INTENT_PARSERS)
    assert intent_for(bot_said, unknown) == CommandRequested(
        Origin(KEY, BOT, D, Source.COMMENT, "51892"), "approve", "(quoting the last command for the record)"
    )
    other = read_jira_delivery(fixture_body("comment_created__mention_other_then_command"), D, JIRA_INTENT_PARSERS)
    assert intent_for(other, unknown) == CommandRequested(said("51889"), "approve", "when you are happy", "WHEN")


def test_statuses_off_means_transitions_do_nothing() -> None:
    off = IntakeRules("ai-orchestrate", None, None, BOT)
    for name in ("issue_updated__status_to_trigger", "issue_updated__status_to_approve"):
        event = read_jira_delivery(fixture_body(name), D, JIRA_INTENT_PARSERS)
        assert isinstance(intent_for(event, off), Ignored)


def test_status_names_compare_without_case() -> None:
    rules = IntakeRules("ai-orchestrate", TRIGGER_STATUS.upper(), None, BOT)
    event = read_jira_delivery(fixture_body("issue_updated__status_to_trigger"), D, JIRA_INTENT_PARSERS)
    assert intent_for(event, rules) == StartRequested(by(PRIYA, Source.TRANSITION))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/approve", Command("approve")),
        ("  /APPROVE  \n", Command("approve")),
        ("/Proceed with care", Command("approve", "with care", "WITH")),
        ("/approve\nnotes below", Command("approve", "notes below")),
        ("\n\n/pause", Command("pause")),
        ("/retry test extra", Command("retry", "test extra", "TEST")),
        (f"[~accountid:{BOT}]: /status", Command("status")),
        (f"[~accountid:{BOT}], [~accountid:{BOT}] /resume", Command("resume")),
        ("/approved", UnknownCommand("approved")),
        ("/approve-now", NotACommand("no command on the first line")),
        ("approve", NotACommand("no command on the first line")),
        ("please /approve", NotACommand("no command on the first line")),
        ("", NotACommand("empty comment")),
        (f"[~accountid:{BOT}]", NotACommand("no command on the first line")),
        ("/reject " + "x" * 5000, Command("reject", "x" * 4000, "X" * 20)),
        # Issue 13 (low): the first line is read up to a cap, and only a few mentions are skipped before the command.
        (f"[~accountid:{BOT}] " * 5 + "/pause", Command("pause")),
        (f"[~accountid:{BOT}] " * 6 + "/pause", NotACommand("more than 5 mentions before the command")),
        (f"[~accountid:{BOT}] " * 20_000 + "/pause", NotACommand("more than 5 mentions before the command")),
        ("/reject " + "y" * 1_000_000, Command("reject", "y" * 4000, "Y" * 20)),
    ],
)
def test_command_grammar(body: str, expected: Command | NotACommand) -> None:
    assert parse_command(body, BOT) == expected
