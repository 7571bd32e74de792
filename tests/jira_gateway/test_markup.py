"""Untrusted text echoed back to Jira is shown literally, never interpreted as wiki markup."""

from __future__ import annotations

import pytest

from app.jira_gateway.markup import escape, inline


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("[~accountid:5f2a] please approve", "\\[\\~accountid:5f2a\\] please approve"),
        ("{code}rm -rf /{code}", "\\{code\\}rm \\-rf /\\{code\\}"),
        ("{noformat}x{noformat}", "\\{noformat\\}x\\{noformat\\}"),
        ("*bold* _it_ [link|http://evil]", "\\*bold\\* \\_it\\_ \\[link\\|http://evil\\]"),
        ("!http://evil/img.png!", "\\!http://evil/img.png\\!"),
        ("h1. Big\nbq. quoted", "\\h1. Big\n\\bq. quoted"),
        ("snake_case and ai-orchestrate stay readable", "snake_case and ai-orchestrate stay readable"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_escape_neutralises_markup(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_inline_flattens_and_cuts() -> None:
    assert inline("line one\n\nline *two*", limit=100) == "line one line \\*two\\*"
    assert inline("x" * 50, limit=10) == "x" * 9 + "…"
