"""Jira wiki markup (REST v2) for text we do not control: people's notes, agent output, file names, ids.

Untrusted text is shown verbatim inside `{noformat}`/`{code}` blocks it cannot close early, or with the wiki's
special characters escaped, never interpreted as markup, macros or mentions. Mentions are made only here, only of
account ids that match Jira's format.
"""

from __future__ import annotations

import difflib
import re

from workflows.ids import is_account_id
from workflows.messages import Source

_WIKI_SPECIAL = re.compile(r"([\[\]{}|*_^~+\-?!#\\])")
# A link target we make clickable: http(s) (or the demo forge's file:), and nothing that could end the link or
# start other markup.
_SAFE_URL = re.compile(r"(?:https?|file)://[^\s\[\]{}|<>\"'`\\]{1,2000}")
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


def link(url: str) -> str:
    """An untrusted URL (an agent's pull request) as a link when it is a plain URL, else as escaped text."""
    label = inline(url, 300)
    if not _SAFE_URL.fullmatch(url):
        return label  # never a target that could close the link or carry markup: shown, not linked
    return f"[{label}|{url}]"


def person(actor: str, source: Source | None) -> str:
    """Who did something, as Jira shows a person: a mention of the Jira account behind a comment or transition
    (Jira renders it as their name), else the operator's name and the way they came (CLI, API)."""
    if source in (Source.COMMENT, Source.TRANSITION, Source.CONSOLE) and is_account_id(actor):
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


def diff_block(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of two versions of untrusted text, in a `{code:diff}` block it cannot close early."""
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""))
    text = "\n".join(lines) if lines else "(no change)"
    if len(text) > MAX_DIFF:
        text = text[:MAX_DIFF] + f"\n… {len(text) - MAX_DIFF} more characters of the diff are not shown"
    return "{code:diff}\n" + text.replace("{code", "{ code") + "\n{code}"


def monospace(text: str, limit: int = 300) -> str:
    """A file name or other untrusted token in monospace, escaped like `inline` (never empty: Jira needs content)."""
    return "{{" + (inline(text, limit) or " ") + "}}"
