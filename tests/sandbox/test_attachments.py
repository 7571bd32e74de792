"""The sandbox's attachments over real HTTP: listed and served as Jira does, shown on the page, faults on uploads."""

from __future__ import annotations

import re

import pytest
import requests

from app.config import SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN
from app.jira_gateway import AuthenticationError, JiraGateway, ValidationError
from app.sandbox.faults import Fault
from app.sandbox.server import SandboxServer

BOT = (SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN)
PLAN = "# Plan\n1. Retry refunds → with backoff\n"


def test_an_attachment_is_listed_and_served_as_jira_does(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    attached = gateway.attach_text("DEMO-1", "DEMO-1-PLAN-v1.md", PLAN)
    issue = requests.get(f"{sandbox.url}/rest/api/2/issue/DEMO-1?fields=attachment", auth=BOT, timeout=5).json()
    (listed,) = issue["fields"]["attachment"]
    assert listed["id"] == attached.id and listed["content"] == attached.content_url
    assert (listed["filename"], listed["size"], listed["mimeType"]) == (
        "DEMO-1-PLAN-v1.md",
        len(PLAN.encode()),
        "text/markdown",
    )
    assert listed["author"]["accountId"] == "sandbox-bot" and listed["created"]
    assert requests.get(attached.content_url, timeout=5).status_code == 401  # content needs auth, as on Jira
    content = requests.get(attached.content_url, auth=BOT, timeout=5)
    assert content.text == PLAN and content.headers["Content-Type"].startswith("text/markdown")


def test_the_page_shows_the_attachment_with_a_link_to_its_text(sandbox: SandboxServer, gateway: JiraGateway) -> None:
    gateway.attach_text("DEMO-1", "DEMO-1-PLAN-v1.md", PLAN)
    page = requests.get(f"{sandbox.url}/", timeout=5).text
    section = page[page.index('<section id="DEMO-1">') : page.index("</section>", page.index('<section id="DEMO-1">'))]
    link = re.search(r'<a href="([^"]+)">DEMO-1-PLAN-v1.md</a> \((\d+) bytes\)', section)
    assert link is not None and int(link.group(2)) == len(PLAN.encode())
    shown = requests.get(f"{sandbox.url}{link.group(1)}", timeout=5)  # a browser, without basic auth
    assert shown.status_code == 200 and shown.text == PLAN and shown.headers["Content-Type"].startswith("text/plain")
    assert requests.get(f"{sandbox.url}/sandbox/attachments/99999", timeout=5).status_code == 404


@pytest.mark.parametrize(("kind", "error"), [("413", ValidationError), ("403", AuthenticationError)])
def test_faults_hit_the_upload_and_nothing_is_attached(
    sandbox: SandboxServer, gateway: JiraGateway, kind: str, error: type[Exception]
) -> None:
    sandbox.faults.add(Fault(kind, method="POST", path="/issue/DEMO-1/attachments"))
    with pytest.raises(error, match=f"answered {kind}"):
        gateway.attach_text("DEMO-1", "DEMO-1-PLAN-v1.md", PLAN)
    assert sandbox.faults.planned() == []  # the fault did fire, on the upload (the listing before it is a GET)
    with sandbox.store.read() as state:
        assert state["issues"]["DEMO-1"].get("attachments", []) == []
