"""What the run says on the issue, as Jira wiki markup (REST v2). Pure functions of the state.

Text that came from people or agents (notes, feedback, agent output) is untrusted: it is shown verbatim
inside `{noformat}` blocks or with wiki characters escaped, never interpreted as markup or mentions.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime

from workflows.ids import is_account_id
from workflows.messages import RunStatus, Source
from workflows.phases import PHASE_SPECS
from workflows.state import Failure, OrchestrationState, Outcome

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
    Source.RECONCILE: "the reconciliation sweep (the trigger label was on the issue but its webhook never arrived)",
    Source.COMMENT: "a comment",
}
GATE_COMMANDS = "{{/approve [notes]}} to proceed · {{/reject <feedback>}} to redo the phase · {{/cancel}} to stop"
FAILURE_COMMANDS = "{{/retry}} to run the failed phase again · {{/retry PHASE}} to restart from PHASE · {{/cancel}}"
_WIKI_SPECIAL = re.compile(r"([\[\]{}|*_^~+\-?!#\\])")
MAX_VERBATIM = 3000
# Jira Cloud refuses a comment over 32,767 characters: a phase's work at its gate gets all but a margin for the rest.
MAX_GATE_OUTPUT = 30_000
MAX_DIFF = 10_000  # of that, for what changed against the version before


def inline(text: str, limit: int = 200) -> str:
    """One line of untrusted text with wiki markup neutralised."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return _WIKI_SPECIAL.sub(r"\\\1", line)


def person(actor: str, source: Source | None) -> str:
    """Who did something, as Jira shows a person: a mention of the Jira account behind a comment or transition
    (Jira renders it as their name), else the operator's name and the way they came (CLI, API)."""
    if source in (Source.COMMENT, Source.TRANSITION) and is_account_id(actor):
        return f"[~accountid:{actor}]"
    how = {Source.CLI: "command line", Source.API: "API"}.get(source) if source else None
    return inline(actor, 80) + (f" ({how})" if how else "")


def verbatim(text: str, limit: int = MAX_VERBATIM) -> str:
    """Untrusted multi-line text shown as-is (a noformat block that it cannot close early)."""
    body = text if len(text) <= limit else "…" + text[-limit:]
    return "{noformat}\n" + body.replace("{noformat}", "{ noformat}") + "\n{noformat}"


def excerpt(text: str, limit: int = MAX_GATE_OUTPUT) -> str:
    """Untrusted text shown as-is from its start (a plan reads top down), saying how much was left out."""
    body = text if len(text) <= limit else text[:limit]
    block = "{noformat}\n" + body.replace("{noformat}", "{ noformat}") + "\n{noformat}"
    if len(text) > limit:
        block += f"\n_… {len(text) - limit} more characters are not shown here._"
    return block


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
        if record.approved_by:
            detail += f" (approved by {person(record.approved_by, record.approved_via)})"
        lines.append(f"|{record.phase}|{MARK[record.outcome]}|{record.attempts}|{detail}|")
    if state.pr_url:
        lines += ["", f"*Pull request:* [{inline(state.pr_url, 300)}|{state.pr_url}]"]
    link_text = " · ".join(f"[{name}|{url}]" for name, url in links.items())
    if link_text:
        lines += ["", link_text]
    return "\n".join(lines)


def gate_comment(state: OrchestrationState, phase: str, next_phase: str | None) -> str:
    """The comment posted when a gate is reached: what the phase produced (and, after a rejection, what changed
    against the version before) and the commands that work."""
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
    if output:
        parts += [f"*{phase} output:*", excerpt(output, MAX_GATE_OUTPUT - (MAX_DIFF if len(versions) > 1 else 0))]
    parts.append(f"Reply with {GATE_COMMANDS}.")
    return "\n".join(parts)


def diff_block(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of two versions of untrusted text, in a `{code:diff}` block it cannot close early."""
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""))
    text = "\n".join(lines) if lines else "(no change)"
    if len(text) > MAX_DIFF:
        text = text[:MAX_DIFF] + f"\n… {len(text) - MAX_DIFF} more characters of the diff are not shown"
    return "{code:diff}\n" + text.replace("{code", "{ code") + "\n{code}"


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
    for record in state.phases:
        parts.append(f"* {MARK[record.outcome]} *{record.phase}*: {inline(record.summary or record.outcome, 200)}")
    if state.fix_rounds:
        parts.append(f"Tests passed after {state.fix_rounds} fix round(s).")
    if state.pr_url:
        parts.append(f"*Pull request:* [{state.pr_url}|{state.pr_url}]")
    return "\n".join(parts)


def phase_prompt(phase: str, issue_key: str, summary: str) -> str:
    """The instruction given to the agents of a phase (issue text itself travels as context)."""
    spec = PHASE_SPECS[phase]
    return f"{spec.goal} Issue {issue_key}: {summary}. Roles: {', '.join(spec.roles)}."
