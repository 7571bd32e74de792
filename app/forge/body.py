"""The pull request's title and body (Markdown), from the run's typed results: pure, so tests read it directly.

The title starts with the issue key (Jira's development panel links pull requests by key). The body links the
issue and carries the approved plan, the changes' and the tests' figures, and who approved which gate. Ticket
text and agent output are untrusted: `@` is broken so nobody is pinged by it, HTML is escaped so it shows as
text, and the whole is bounded (GitHub refuses bodies over 65,536 characters).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from workflows.results import Changes, Fix, Plan, SuiteRun, plan_lines

MAX_TITLE = 200
MAX_BODY = 60_000


@dataclass(frozen=True)
class Approver:
    """Who approved which gate, and when."""

    phase: str
    actor: str
    at: str


@dataclass(frozen=True)
class PullRequestText:
    """What the pull request says: the issue, its summary and the run's typed results."""

    issue_key: str
    summary: str = ""
    plan: Plan | None = None
    changes: Changes | None = None
    fix: Fix | None = None
    tests: SuiteRun | None = None
    approvers: list[Approver] = field(default_factory=list)


def title(text: PullRequestText) -> str:
    """`KEY: summary`, on one line and bounded."""
    summary = " ".join(text.summary.split())
    whole = f"{text.issue_key}: {summary}" if summary else text.issue_key
    return whole if len(whole) <= MAX_TITLE else whole[: MAX_TITLE - 1] + "…"


def body(text: PullRequestText, issue_url: str) -> str:
    """The Markdown body: the issue link, the approved plan, the figures and the approvers."""
    lines = [f"Jira issue: [{text.issue_key}]({issue_url})", ""]
    if text.summary:
        lines += [f"> {_safe(' '.join(text.summary.split()))}", ""]
    if text.plan is not None:
        lines += ["### Approved plan", "", *[_safe(line) for line in plan_lines(text.plan)], ""]
    figures = _figures(text)
    if figures:
        lines += ["### Figures", "", *figures, ""]
    if text.approvers:
        lines += ["### Approved by", ""]
        lines += [f"- {a.phase}: {_safe(a.actor)} ({a.at[:16].replace('T', ' ')} UTC)" for a in text.approvers]
        lines.append("")
    lines.append("_Opened by Jira Orchestrator; the run updates this description each time it completes._")
    whole = "\n".join(lines)
    return whole if len(whole) <= MAX_BODY else whole[:MAX_BODY] + "\n\n… (cut: the rest is on the Jira issue)"


def _figures(text: PullRequestText) -> list[str]:
    lines = []
    for name, changed in (("Changes", text.changes), ("Fixes", text.fix)):
        if changed is not None:
            count = len(changed.files_changed)
            lines.append(
                f"- {name}: {count} file{'s' if count != 1 else ''}, +{changed.lines_added} −{changed.lines_removed}"
                f", {len(changed.commits)} commit{'s' if len(changed.commits) != 1 else ''}"
            )
    if text.tests is not None:
        run = text.tests
        line = f"- Tests: {run.passed} passed, {run.failed} failed, {run.skipped} skipped"
        lines.append(line + (f", coverage {run.coverage:g} %" if run.coverage is not None else ""))
    return lines


def _safe(value: str) -> str:
    # A zero-width joiner after `@` keeps `@team` from notifying a team; escaping keeps HTML as text.
    return html.escape(value, quote=False).replace("@", "@\u2060")
