"""The sandbox forge's HTML page per pull request: title, state, the body rendered, its commits and its diff.

The body is Markdown written from ticket text and agent output, so it is escaped first and only a small,
safe subset is rendered (headings, list items, quotes, paragraphs, and links to http(s) addresses).
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template
from markupsafe import Markup, escape

from app.sandbox.forge import ForgeNotFound, find_pull, site

bp = Blueprint("sandbox_forge_page", __name__, url_prefix="/forge")

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")


@bp.get("/<owner>/<name>/pull/<int:number>")
def pull_page(owner: str, name: str, number: int) -> str:
    """The pull request's page, as a reviewer would open it from the issue's "Pull request" link."""
    forge = site()
    try:
        if f"{owner}/{name}" != forge.repository:
            raise ForgeNotFound
        with forge.store.read() as state:
            pull = dict(find_pull(state, number))
    except ForgeNotFound:
        abort(404, f"{owner}/{name} has no pull request #{number}")
    return render_template(
        "forge_pull.html",
        repository=forge.repository,
        pull=pull,
        body=render_markdown(pull["body"]),
        commits=forge.remote.commits(pull["base"], pull["head"]),
        diff=forge.remote.diff(pull["base"], pull["head"]),
    )


def render_markdown(text: str) -> Markup:
    """The subset of Markdown our pull request bodies use, as HTML; everything else shows as text."""
    html: list[str] = []
    paragraph: list[str] = []
    listing = False

    def inline(line: str) -> str:
        escaped = str(escape(line))
        return _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', escaped)

    def close() -> None:
        nonlocal listing
        if paragraph:
            html.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()
        if listing:
            html.append("</ul>")
            listing = False

    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("- "):
            if not listing:
                close()
                html.append("<ul>")
                listing = True
            html.append(f"<li>{inline(line[2:])}</li>")
            continue
        if not line or line.startswith(("#", "> ")):
            close()
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            html.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("> "):
            html.append(f"<blockquote>{inline(line[2:])}</blockquote>")
        elif line:
            if listing:
                close()
            paragraph.append(inline(line))
    close()
    return Markup("\n".join(html))  # noqa: S704 - built from escaped text and http(s) links only
