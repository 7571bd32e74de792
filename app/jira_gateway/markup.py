"""Jira wiki markup (REST v2) for text we did not write: echoed back literally, never interpreted.

`escape()` backslash-escapes what could become markup: braces (`{code}`, `{noformat}`, `{color}` macros),
brackets (links and `[~accountid:...]` mentions), `|` (tables), `!` (images), `#` (lists), backslashes, and the
emphasis characters `* _ + ^ ~ ? -` unless they sit inside a word (so `snake_case` and `ai-orchestrate` stay
readable). A line that would start a heading or quote (`h1.`, `bq.`) gets its first letter escaped.
"""

from __future__ import annotations

import re

_ALWAYS = re.escape("\\{}[]|!#")
_EMPHASIS = re.escape("*_+^~?-")
# An emphasis character counts as markup unless it has a letter or digit on both sides.
_PATTERN = re.compile(rf"[{_ALWAYS}]|(?<![^\W_])[{_EMPHASIS}]|[{_EMPHASIS}](?![^\W_])")
_BLOCK_START = re.compile(r"^(\s*)(h[1-6]\.|bq\.)", re.MULTILINE)


def escape(text: str) -> str:
    """Neutralise wiki markup, mentions and macros in `text`, keeping its characters and line breaks."""
    escaped = _PATTERN.sub(lambda m: "\\" + m.group(0), text)
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def inline(text: str, limit: int = 200) -> str:
    """`escape()` on one line: line breaks become spaces and long text is cut with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: max(limit - 1, 0)] + "…"
    return escape(flat)
