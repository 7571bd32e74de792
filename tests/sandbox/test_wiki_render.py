"""The sandbox page renders the bot's Jira wiki markup as Jira shows it (issue 14), escaping the untrusted text."""

from __future__ import annotations

import requests

from app.jira_gateway import JiraGateway
from app.sandbox.server import SandboxServer
from app.sandbox.wiki_render import render
from workflows.messages import Source
from workflows.wiki import diff_block, excerpt, inline, monospace, person

NAMES = {"acc-reviewer": "Rita Reviewer"}


def test_headings_bold_italic_and_monospace() -> None:
    html = render("h3. 🤖 AI orchestration of DEMO-1\n*Status:* Running · _soon_ {{greeting.py}}")
    assert "<h3>🤖 AI orchestration of DEMO-1</h3>" in html
    assert "<strong>Status:</strong> Running · <em>soon</em> <code>greeting.py</code>" in html


def test_tables_with_header_and_cells_that_hold_links() -> None:
    html = render("||Phase||Outcome||\n|EXPLORE|(/) done|\n|PLAN|[the plan|https://ex.test/p?a=1&b=2]|")
    assert html.startswith("<table><tr><th>Phase</th><th>Outcome</th></tr>")
    assert "<tr><td>EXPLORE</td><td>✅ done</td></tr>" in html
    assert '<td><a href="https://ex.test/p?a=1&amp;b=2" rel="nofollow noopener">the plan</a></td>' in html


def test_noformat_and_code_blocks_are_verbatim_and_escaped() -> None:
    text = (
        "before\n"
        + excerpt("*not bold* <script>alert(1)</script>\n|not|a|table|")
        + "\n"
        + diff_block("a", "b", "v1", "v2")
    )
    html = render(text)
    assert '<pre class="noformat">*not bold* &lt;script&gt;alert(1)&lt;/script&gt;\n|not|a|table|</pre>' in html
    assert '<pre class="code">--- v1\n+++ v2\n@@ -1 +1 @@\n-a\n+b</pre>' in html
    assert "<script>" not in html


def test_mentions_show_names_and_lists_render() -> None:
    html = render(f"✅ {{{{/approve}}}} from {person('acc-reviewer', Source.CONSOLE)} (console)\n# one\n# two\n* x")
    named = render(f"from {person('acc-reviewer', Source.CONSOLE)} (console)", NAMES)
    assert named == '<p>from <span class="mention" title="acc-reviewer">@Rita Reviewer</span> (console)</p>'
    assert "<code>/approve</code>" in html and "<ol><li>one</li><li>two</li></ol><ul><li>x</li></ul>" in html
    assert "@user acc-other" in render("[~accountid:acc-other]")


def test_untrusted_text_cannot_inject_html_or_a_script_link() -> None:
    evil = '<img src=x onerror=alert(1)> [click|javascript:alert(1)] [x|https://ok.test/"onmouseover="y] \ue0000\ue001'
    html = render(evil)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript" not in html and " click " in html  # another scheme: the label, never a link
    assert 'href="https://ok.test/&quot;onmouseover=&quot;y"' in html  # quoted: stays inside the attribute
    # The bot's escaped text comes out as the person wrote it.
    assert render(inline("a *b* [c] {d}")) == "<p>a *b* [c] {d}</p>"
    assert render(monospace("x_y_z.py")) == "<p><code>x_y_z.py</code></p>"


def test_the_sandbox_page_shows_the_bots_comment_as_jira_would(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    body = "h3. 🤖 Status\n||Phase||Outcome||\n|PLAN|(/)|\n✅ {{/approve}} from [~accountid:sandbox-reviewer] (console)"
    gateway.post_comment_once("DEMO-1", "render-test", body)
    page = requests.get(sandbox.url + "/", timeout=10).text
    assert (
        "<h3>🤖 Status</h3><table><tr><th>Phase</th><th>Outcome</th></tr><tr><td>PLAN</td><td>✅</td></tr></table>"
        in page
    )
    assert '<span class="mention" title="sandbox-reviewer">@reviewer</span> (console)' in page
    assert "||Phase||" not in page
    # The console links issues as Jira does (/browse/KEY): the sandbox opens the issue on its page.
    browse = requests.get(sandbox.url + "/browse/demo-1", allow_redirects=False, timeout=10)
    assert browse.status_code == 302 and browse.headers["Location"].endswith("/#DEMO-1")
