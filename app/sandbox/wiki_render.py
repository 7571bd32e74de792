"""Jira wiki markup to HTML for the sandbox page: the subset the bot writes, shown the way Jira shows it.

Headings (`h3.`), bold and italic, `{{monospace}}`, tables (`||head||`, `|cell|`), `*`/`#` lists, `{noformat}` and
`{code}` blocks, links `[text|url]`, mentions `[~accountid:x]` shown as the person's name, backslash escapes and
Jira's emoticons. The text is untrusted (people and agents wrote parts of it): everything is HTML-escaped first and
only our own tags are added after; a link is made only to http(s) URLs. Pure: no Flask, no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping

from markupsafe import Markup

EMOTICONS = {
    "(/)": "✅",
    "(x)": "❌",
    "(!)": "⚠️",
    "(i)": "ℹ️",
    "(?)": "❓",
    "(y)": "👍",
    "(n)": "👎",
    "(on)": "💡",
    "(off)": "🔌",
    "(*)": "⭐",
}
_PRIVATE = re.compile("[\ue000-\ue002]")  # our placeholder marks: never taken from the text itself
_BLOCK = re.compile(r"^\{(noformat|code)(?::[^}]*)?\}(.*)$")
_HEADING = re.compile(r"^h([1-6])\.\s+(.*)$")
_LIST = re.compile(r"^([*#])\s+(.*)$")
_ESCAPED = re.compile(r"\\(.)")
_MONOSPACE = re.compile(r"\{\{(.+?)\}\}")
_MENTION = re.compile(r"\[~accountid:([A-Za-z0-9:_\-]+)\]")
_LINK = re.compile(r"\[([^\[\]|]*)\|([^\[\]|\s]+)\]|\[(https?://[^\[\]|\s]+)\]")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")
_SLOT = re.compile("\ue000(\\d+)\ue001")


class _Slots:
    """Rendered pieces kept aside as placeholders, so later rules (bold, table cells) cannot reach into them."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def keep(self, rendered: str) -> str:
        self.pieces.append(rendered)
        return f"\ue000{len(self.pieces) - 1}\ue001"

    def restore(self, text: str) -> str:
        while _SLOT.search(text):
            text = _SLOT.sub(lambda m: self.pieces[int(m.group(1))], text)
        return text


def render(markup: str, names: Mapping[str, str] | None = None) -> Markup:
    """HTML for a comment written in Jira wiki markup; mentions of known account ids show the person's name."""
    text = _PRIVATE.sub("", markup.replace("\r\n", "\n"))
    # Safe: every piece of the text went through html.escape before our own tags were put around it.
    return Markup("".join(_blocks(text.split("\n"), names or {})))  # noqa: S704


def _blocks(lines: list[str], names: Mapping[str, str]) -> Iterator[str]:
    index = 0
    while index < len(lines):
        line = lines[index]
        block = _BLOCK.match(line)
        if block:
            kind, rest = block.groups()
            body, index = _verbatim(lines, index, kind, rest)
            yield f'<pre class="{kind}">{html.escape(body)}</pre>'
            continue
        if line.startswith("|"):
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                rows.append(lines[index])
                index += 1
            yield _table(rows, names)
            continue
        if _LIST.match(line):
            items, kind = [], line[0]
            while index < len(lines) and (item := _LIST.match(lines[index])) and item.group(1) == kind:
                items.append(f"<li>{_inline(item.group(2), names)}</li>")
                index += 1
            tag = "ul" if kind == "*" else "ol"
            yield f"<{tag}>{''.join(items)}</{tag}>"
            continue
        heading = _HEADING.match(line)
        if heading:
            level, title = heading.groups()
            yield f"<h{level}>{_inline(title, names)}</h{level}>"
        elif line.strip():
            yield f"<p>{_inline(line, names)}</p>"
        index += 1


def _verbatim(lines: list[str], start: int, kind: str, first: str) -> tuple[str, int]:
    """The block's text up to its closing `{kind}` (or the end), and the index after it."""
    closing = "{" + kind + "}"
    body = [first] if first else []
    index = start + 1
    while index < len(lines):
        line = lines[index]
        if closing in line:
            before = line.split(closing, 1)[0]
            if before:
                body.append(before)
            return "\n".join(body), index + 1
        body.append(line)
        index += 1
    return "\n".join(body), index


def _table(rows: list[str], names: Mapping[str, str]) -> str:
    out = []
    for row in rows:
        slots = _Slots()
        kept = _protect(html.escape(row), names, slots)
        header = kept.startswith("||")
        cells = [cell for cell in re.split(r"\|\|?", kept.strip())[1:]]
        if cells and cells[-1] == "":
            cells.pop()
        tag = "th" if header else "td"
        out.append("<tr>" + "".join(f"<{tag}>{slots.restore(_emphasis(cell))}</{tag}>" for cell in cells) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def _inline(text: str, names: Mapping[str, str]) -> str:
    slots = _Slots()
    return slots.restore(_emphasis(_protect(html.escape(text), names, slots)))


def _protect(escaped: str, names: Mapping[str, str], slots: _Slots) -> str:
    """Escapes, monospace, mentions, links and emoticons become placeholders (the text is already HTML-escaped)."""
    text = _ESCAPED.sub(lambda m: slots.keep(m.group(1)), escaped)
    text = _MONOSPACE.sub(lambda m: slots.keep(f"<code>{slots.restore(m.group(1))}</code>"), text)
    text = _MENTION.sub(lambda m: slots.keep(_mention(m.group(1), names)), text)
    text = _LINK.sub(lambda m: slots.keep(_link(m, slots.restore)), text)
    for code, emoji in EMOTICONS.items():
        text = text.replace(code, slots.keep(emoji))
    return text


def _emphasis(text: str) -> str:
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    return _ITALIC.sub(r"<em>\1</em>", text)


def _mention(account_id: str, names: Mapping[str, str]) -> str:
    name = names.get(account_id)
    shown = html.escape(name) if name else f"user {account_id}"
    return f'<span class="mention" title="{account_id}">@{shown}</span>'


def _link(match: re.Match[str], restore: Callable[[str], str]) -> str:
    label, url, bare = match.groups()
    target = bare or url
    shown = restore(label) if label else target
    if not re.match(r"^https?://", html.unescape(target)):
        return shown  # javascript:, data: and other schemes: the text only, never a link
    return f'<a href="{target}" rel="nofollow noopener">{shown}</a>'
