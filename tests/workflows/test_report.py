"""What the run writes on the issue (workflows/report.py): pure functions of the state, so tested directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.commands import can_retry
from workflows.messages import RunStatus, Source
from workflows.phases import PHASE_ORDER
from workflows.report import elapsed, gate_comment, status_comment, summary_comment
from workflows.result_markup import MAX_ITEMS, result_markup
from workflows.results import FailingTest, Findings, PhaseResult, Plan, PlanStep, SuiteRun
from workflows.state import OrchestrationState, Outcome, PhaseRecord
from workflows.wiki import diff_block, excerpt, inline, link, person, verbatim

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def state(**changes: object) -> OrchestrationState:
    """A run of DEMO-1 started an hour and five minutes before NOW."""
    run = OrchestrationState(
        issue_key="DEMO-1",
        project_key="DEMO",
        workflow_id="orchestration-DEMO-1",
        run_id="r1",
        started_by="acc-1",
        started_at=(NOW - timedelta(hours=1, minutes=5)).isoformat(),
        phases=[PhaseRecord(phase) for phase in PHASE_ORDER],
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


@pytest.mark.parametrize("source", list(Source))
def test_the_status_comment_says_how_the_run_began(source: Source) -> None:
    text = status_comment(state(source=source), NOW, {})
    started = next(line for line in text.splitlines() if line.startswith("*Started from:*"))
    assert len(started) > len("*Started from:* ")
    if source is Source.RECONCILE:
        assert "webhook never arrived" in started


def test_the_status_comment_has_one_row_per_phase_and_the_elapsed_time() -> None:
    text = status_comment(state(), NOW, {"Temporal": "http://ui/run"})
    assert "*Elapsed:* 1h 5m" in text
    assert [
        line.split("|")[1] for line in text.splitlines() if line.startswith("|") and not line.startswith("||")
    ] == list(PHASE_ORDER)
    assert text.endswith("[Temporal|http://ui/run]")


@given(st.text(max_size=300))
def test_inline_text_never_carries_markup_or_mentions(text: str) -> None:
    shown = inline(text)
    assert "\n" not in shown
    for special in "[]{}|*_":
        assert shown.count(special) == shown.count("\\" + special), special


@given(st.text(max_size=500))
def test_verbatim_text_cannot_close_its_block_early(text: str) -> None:
    shown = verbatim(text)
    assert shown.startswith("{noformat}\n") and shown.endswith("\n{noformat}")
    assert shown.count("{noformat}") == 2


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0, "0s"), (59, "59s"), (61, "1m"), (3600 * 2 + 300, "2h 5m"), (86400 + 3600, "1d 1h")]
)
def test_elapsed_is_short_and_human(seconds: int, expected: str) -> None:
    assert elapsed((NOW - timedelta(seconds=seconds)).isoformat(), NOW) == expected


@given(st.text(max_size=500), st.integers(10, 600))
def test_a_gate_excerpt_shows_the_start_says_what_is_cut_and_cannot_close_its_block(text: str, limit: int) -> None:
    shown = excerpt(text, limit)
    assert shown.startswith("{noformat}\n") and shown.count("{noformat}") == 2
    body = shown.split("{noformat}")[1][1:-1]
    assert body == text[:limit].replace("{noformat}", "{ noformat}")
    assert shown.endswith(f"_… {len(text) - limit} more characters are not shown here._") == (len(text) > limit)


def test_a_whole_plan_fits_the_gate_comment_within_jiras_limit() -> None:
    plan = "\n".join(f"{n}. Step {n}: change `module_{n}.py` and test it" for n in range(1, 2000))
    record = PhaseRecord("PLAN", Outcome.SUCCEEDED)
    run = state(outputs={"PLAN": plan}, pending_gate="PLAN", phases=[record])
    text = gate_comment(run, "PLAN", "CODE")
    assert len(text) < 32_767 and "1. Step 1:" in text and "more characters are not shown" in text
    assert gate_comment(state(outputs={"PLAN": "1. one\n2. two"}), "PLAN", "CODE").count("2. two") == 1


ALICE = "712020:a11ce000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("actor", "source", "shown"),
    [
        (
            "712020:a11ce000-0000-4000-8000-000000000001",
            Source.COMMENT,
            "[~accountid:712020:a11ce000-0000-4000-8000-000000000001]",
        ),
        ("5b10a2844c20165700ede21g", Source.TRANSITION, "[~accountid:5b10a2844c20165700ede21g]"),
        ("cli:root", Source.CLI, "cli:root (command line)"),
        ("ops-team", Source.API, "ops\\-team (API)"),
        ("x] [~accountid:evil", Source.COMMENT, "x\\] \\[\\~accountid:evil"),  # never a mention it did not earn
    ],
)
def test_people_are_shown_as_jira_shows_them(actor: str, source: Source, shown: str) -> None:
    assert person(actor, source) == shown


@given(st.text(max_size=300), st.text(max_size=300))
def test_a_diff_of_untrusted_text_cannot_close_its_block(before: str, after: str) -> None:
    shown = diff_block(before, after, "v1", "v2")
    assert shown.startswith("{code:diff}\n") and shown.endswith("\n{code}") and shown.count("{code") == 2


def test_typed_results_render_escaped_and_bounded() -> None:
    hostile = "[~accountid:712020:evil] {noformat} *bold* |cell| {{mono}}"
    plan = PhaseResult(plan=Plan([PlanStep(hostile, [hostile], hostile)], [hostile], "low", hostile))
    shown = "\n".join(result_markup(plan))
    assert "[~accountid" not in shown and "{noformat}" not in shown and "|cell|" not in shown
    assert shown.count("\n# ") + shown.startswith("# ") == 1 and "#* where: {{" in shown
    many = PhaseResult(explore=Findings(risks=[f"risk {n}" for n in range(500)]))
    lines = result_markup(many)
    assert len([line for line in lines if line.startswith("* risk")]) == MAX_ITEMS
    assert "_… and 460 more_" in lines[-1]
    failing = PhaseResult(test=SuiteRun(3, 1, 0, [FailingTest("test_x (t.T.test_x)", "AssertionError: 1 != 2")]))
    assert result_markup(failing) == [
        "*Tests:* 3 passed / 1 failed",
        "* ❌ {{test\\_x (t.T.test\\_x)}}: AssertionError: 1 \\!= 2",
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://forge.test/acme/pay/pull/7",
            "[https://forge.test/acme/pay/pull/7|https://forge.test/acme/pay/pull/7]",
        ),
        ("https://x.test/a|javascript:alert(1)", "https://x.test/a\\|javascript:alert(1)"),
        ("https://x.test/a] [~accountid:557058:f0]", "https://x.test/a\\] \\[\\~accountid:557058:f0\\]"),
        ("javascript:alert(1)", "javascript:alert(1)"),
    ],
)
def test_a_pull_request_url_is_a_link_only_when_it_is_a_plain_url(url: str, shown: str) -> None:
    # Issue 13 (low): the PR URL comes from an agent; it must not close the link or carry markup.
    assert link(url) == shown
    run = state(pr_url=url, status=RunStatus.COMPLETED)
    assert f"*Pull request:* {shown}" in summary_comment(run, NOW)
    assert f"*Pull request:* {shown}" in status_comment(run, NOW, {})


def test_an_unknown_retry_phase_is_echoed_escaped() -> None:
    # Issue 13 (low): the /retry argument is the commenter's text.
    verdict = can_retry(state(status=RunStatus.FAILED), "x}{noformat}[~accountid:1]")
    assert not verdict.accepted and "unknown phase x\\}\\{noformat\\}\\[\\~accountid:1\\];" in verdict.message
