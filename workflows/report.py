"""What the run says on the issue, as Jira wiki markup (REST v2). Pure functions of the state.

Text that came from people or agents (notes, feedback, agent output) is untrusted: it is shown verbatim
inside `{noformat}` blocks or with wiki characters escaped, never interpreted as markup or mentions.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from workflows.messages import RunStatus, Source
from workflows.phases import PHASE_SPECS
from workflows.result_markup import result_markup
from workflows.results import figures, plan_lines
from workflows.state import Failure, OrchestrationState, Outcome
from workflows.wiki import MAX_DIFF, MAX_GATE_OUTPUT, diff_block, excerpt, inline, link, person, verbatim

MARK = {
    Outcome.PENDING: "⬜",
    Outcome.RUNNING: "⏳",
    Outcome.SUCCEEDED: "✅",
    Outcome.FAILED: "❌",
    Outcome.REJECTED: "↩️",
    Outcome.SKIPPED: "➖",
    Outcome.CANCELLED: "⛔",
}
STATUS_TEXT = {
    RunStatus.STARTING: "Starting",
    RunStatus.RUNNING: "Running",
    RunStatus.WAITING_FOR_APPROVAL: "Waiting for approval",
    RunStatus.PAUSED: "Paused",
    RunStatus.COMPLETED: "Completed",
    RunStatus.FAILED: "Failed (blocked)",
    RunStatus.CANCELLED: "Cancelled",
}
# How the run began, in the status comment: people should know why a run exists they did not see start.
STARTED_FROM = {
    Source.LABEL: "the trigger label",
    Source.CREATED: "an issue created with the trigger label",
    Source.TRANSITION: "a transition to the trigger status",
    Source.CLI: "the command line",
    Source.API: "the API",
    Source.CONSOLE: "the console",
    Source.RECONCILE: "the reconciliation sweep (the trigger label was on the issue but its webhook never arrived)",
    Source.COMMENT: "a comment",
}
GATE_COMMANDS = "{{/approve [notes]}} to proceed · {{/reject <feedback>}} to redo the phase · {{/cancel}} to stop"
FAILURE_COMMANDS = "{{/retry}} to run the failed phase again · {{/retry PHASE}} to restart from PHASE · {{/cancel}}"


def elapsed(started_at: str, now: datetime) -> str:
    """A short human duration such as `3m`, `2h 5m` or `1d 4h`."""
    seconds = max(0, int((now - datetime.fromisoformat(started_at)).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def status_comment(state: OrchestrationState, now: datetime, links: dict[str, str]) -> str:
    """The one status comment of the run, edited in place: checklist, current step, elapsed time, links."""
    until = datetime.fromisoformat(state.finished_at) if state.finished_at else now
    lines = [
        f"h3. 🤖 AI orchestration of {state.issue_key}",
        f"*Status:* {STATUS_TEXT[state.status]} · *Step:* {inline(state.step)} · "
        f"*Elapsed:* {elapsed(state.started_at, until)}",
        f"*Started from:* {STARTED_FROM[state.source]}",
        "",
        "||Phase||State||Attempts||Detail||",
    ]
    for record in state.phases:
        detail = (record.summary and inline(record.summary, 120)) or " "
        measured = figures(state.results.get(record.phase)) if record.outcome != Outcome.PENDING else ""
        if measured:
            detail += f" · *{inline(measured, 120)}*"
        if record.approved_by:
            detail += f" (approved by {person(record.approved_by, record.approved_via)})"
        lines.append(f"|{record.phase}|{MARK[record.outcome]}|{record.attempts}|{detail}|")
    if state.pr_url:
        lines += ["", f"*Pull request:* {link(state.pr_url)}"]
    link_text = " · ".join(f"[{name}|{url}]" for name, url in links.items())
    if link_text:
        lines += ["", link_text]
    return "\n".join(lines)


def gate_comment(state: OrchestrationState, phase: str, next_phase: str | None) -> str:
    """The comment posted when a gate is reached: what the phase produced (and, after a rejection, what changed
    against the version before) and the commands that work; within Jira's comment limit (the rest is attached)."""
    return _gate(state, phase, next_phase)[0]


def gate_attachment(state: OrchestrationState, phase: str) -> tuple[str, str] | None:
    """(file name, full text) of the phase's work when its gate comment cannot show all of it, else None."""
    if not _gate(state, phase, None)[1]:
        return None
    typed = state.results.get(phase)
    parts = [f"# {phase} of {state.issue_key}", ""]
    if typed is not None and typed.plan is not None:
        parts += plan_lines(typed.plan)
    elif typed is not None:
        parts += ["```json", json.dumps(asdict(typed), indent=2, ensure_ascii=False), "```"]
    parts += ["", state.outputs.get(phase, "")]
    return attachment_name(state, phase), "\n".join(parts).strip() + "\n"


def attachment_name(state: OrchestrationState, phase: str) -> str:
    """The attachment's file name: the issue, the phase and its version (PAY-1-PLAN-v2.md)."""
    versions = state.versions.get(phase, [])
    version = versions[-1].version if versions else state.record(phase).attempts
    return f"{state.issue_key}-{phase}-v{version}.md"


def _gate(state: OrchestrationState, phase: str, next_phase: str | None) -> tuple[str, bool]:
    ahead = f" before *{next_phase}* starts" if next_phase else ""
    output = state.outputs.get(phase, "")
    versions = state.versions.get(phase, [])
    parts = [f"⏸️ Waiting for approval to proceed{ahead}. *{phase}* is done."]
    if len(versions) > 1:
        now, before = versions[-1], versions[-2]
        asked = ""
        if now.feedback_by:
            asked = f", after feedback from {person(now.feedback_by, now.feedback_via)}: {inline(now.feedback, 300)}"
        parts += [f"*{phase} v{now.version}*{asked}", f"*What changed since v{before.version}:*"]
        parts.append(diff_block(before.text, now.text, f"v{before.version}", f"v{now.version}"))
    room = MAX_GATE_OUTPUT - (MAX_DIFF if len(versions) > 1 else 0)
    attached = f"_The whole of it is attached to this issue as {{{{{attachment_name(state, phase)}}}}}._"
    overflow = False
    typed = state.results.get(phase)
    if typed is not None:
        lines = result_markup(typed)
        shown = "\n".join(lines)
        while len(shown) > room and len(lines) > 1:  # whole lines only: a cut mid-line could open markup
            overflow = True
            lines = lines[: max(1, len(lines) * 3 // 4)]
            shown = "\n".join(lines)
        parts += [f"*{phase} result:*", shown]
        room -= len(shown)
    if output and (typed is None or typed.plan is None):  # a typed plan is its steps: the text would repeat them
        title = f"*{phase} output:*" if typed is None else f"*{phase} report (as the agent wrote it):*"
        limit = max(room, 2000)
        overflow = overflow or len(output) > limit
        parts += [title, excerpt(output, limit)]
    if overflow:
        parts.append(attached)
    parts.append(f"Reply with {GATE_COMMANDS}.")
    return "\n".join(parts), overflow


def failure_comment(failure: Failure, attempts: int) -> str:
    """The comment posted when the run is blocked: phase, cause, last output, the commands that help."""
    where = f"in *{failure.phase}*" if failure.phase else "before any phase ran"
    parts = [
        f"❌ The run is blocked {where} (attempt {attempts}).",
        f"*Cause ({failure.cause.value}):* {inline(failure.message, 300)}",
    ]
    if failure.last_output:
        parts += ["*Last agent output:*", verbatim(failure.last_output, 1500)]
    parts.append(f"Next: {FAILURE_COMMANDS}.")
    return "\n".join(parts)


def summary_comment(state: OrchestrationState, now: datetime) -> str:
    """The final summary: every phase's outcome and the pull request."""
    parts = [f"🎉 AI orchestration of {state.issue_key} completed in {elapsed(state.started_at, now)}."]
    totals = run_figures(state)
    if totals:
        parts.append(f"*{totals}*")
    for record in state.phases:
        measured = figures(state.results.get(record.phase)) if record.outcome != Outcome.SKIPPED else ""
        line = inline(record.summary or record.outcome, 200) + (f" ({inline(measured, 120)})" if measured else "")
        if record.approved_by:
            line += f" · approved by {person(record.approved_by, record.approved_via)}"
        parts.append(f"* {MARK[record.outcome]} *{record.phase}*: {line}")
    if state.fix_rounds:
        parts.append(f"Tests passed after {state.fix_rounds} fix round(s).")
    if state.pr_url:
        parts.append(f"*Pull request:* {link(state.pr_url)}")
    return "\n".join(parts)


def run_figures(state: OrchestrationState) -> str:
    """The run's figures on one line: the last test run, and the files and lines CODE and FIX changed."""
    parts = []
    test = state.results.get("TEST")
    if test is not None and test.test is not None:
        parts.append("Tests " + figures(test))
    changed: list[str] = []
    added = removed = 0
    for phase in ("CODE", "FIX"):
        result = state.results.get(phase)
        section = result.code or result.fix if result is not None else None
        if section is not None:
            changed += [name for name in section.files_changed if name not in changed]
            added, removed = added + section.lines_added, removed + section.lines_removed
    if changed:
        parts.append(f"{len(changed)} file{'s' if len(changed) != 1 else ''} changed, +{added} −{removed}")
    return " · ".join(parts)


def phase_prompt(phase: str, issue_key: str, summary: str) -> str:
    """The instruction given to the agents of a phase (issue text itself travels as context)."""
    spec = PHASE_SPECS[phase]
    return f"{spec.goal} Issue {issue_key}: {summary}. Roles: {', '.join(spec.roles)}."
