"""The sandbox forge, driven by the real GitHub provider: one pull request per head, its page, GitHub's refusals."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.stack import banner, sandbox_forge_env
from app.config import SANDBOX_FORGE_TOKEN, Settings
from app.forge import ForgeInvalid, ForgeNotFound, ForgePermission, ForgeRetry, PullRequestDraft
from app.forge.github import GitHubForge
from app.sandbox.server import SandboxServer
from tests.forge.conftest import github_pull
from tests.sandbox.conftest import Receiver, sandbox_config

HEAD = "jira/DEMO-1"
DRAFT = PullRequestDraft(HEAD, "DEMO-1: Greet people", "### Approved plan\n\n- Add <greet> @team\n", None, True)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare remote with `main` and an issue branch one commit ahead, as the demo agent leaves it."""
    bare, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(work))
    ident = ("-c", "user.name=Agent", "-c", "user.email=agent@example.invalid")
    (work / "greeting.py").write_text("def greet():\n    return 'hi'\n")
    git(work, "add", ".")
    git(work, *ident, "commit", "--quiet", "-m", "Start")
    git(work, "checkout", "--quiet", "-b", HEAD)
    (work / "greeting.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    git(work, *ident, "commit", "--quiet", "-am", "Greet by name")
    git(work, "push", "--quiet", str(bare), "main", HEAD)
    return bare


@pytest.fixture
def forge_sandbox(tmp_path: Path, receiver: Receiver, remote: Path) -> Iterator[SandboxServer]:
    config = dataclasses.replace(sandbox_config(tmp_path / "sandbox.json", receiver.url), forge_remote=remote)
    server = SandboxServer(config).start()
    yield server
    server.stop()


def provider(
    server: SandboxServer, token: str = SANDBOX_FORGE_TOKEN, repository: str = "demo/demo-repo"
) -> GitHubForge:
    return GitHubForge(f"{server.url}/forge/api", repository, token, 5.0, ForgeRetry(0.0))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - the loopback sandbox
        return str(answer.read().decode())


def test_the_provider_opens_one_pull_request_and_updates_it(forge_sandbox: SandboxServer) -> None:
    forge = provider(forge_sandbox)
    first = forge.open_or_update(DRAFT)
    again = forge.open_or_update(dataclasses.replace(DRAFT, body="### Approved plan\n\n- v2"))
    assert first.created and not again.created and first.pull_request == again.pull_request
    assert first.pull_request.url == f"{forge_sandbox.url}/forge/demo/demo-repo/pull/1"
    posts = json.loads(get(f"{forge_sandbox.url}/forge/_admin/posts"))
    assert [p["head"] for p in posts] == [HEAD]
    forge.comment(1, "Merged, thanks")


def test_the_page_shows_title_rendered_body_commits_and_diff(forge_sandbox: SandboxServer) -> None:
    pull = provider(forge_sandbox).open_or_update(DRAFT).pull_request
    page = get(pull.url)
    assert "DEMO-1: Greet people" in page and "(draft)" in page
    assert "<h3>Approved plan</h3>" in page and "<li>Add &lt;greet&gt; @team</li>" in page
    assert "Greet by name" in page and "Start</li>" not in page  # only the branch's own commits
    assert "+    return f&#39;hello {name}&#39;" in page


def test_a_merge_is_found_by_the_providers_merged_since(forge_sandbox: SandboxServer) -> None:
    forge = provider(forge_sandbox)
    before = datetime.now(UTC) - timedelta(seconds=5)
    pull = forge.open_or_update(DRAFT).pull_request
    assert forge.merged_since(before) == []  # open
    merge = f"{forge_sandbox.url}/forge/_admin/pulls/{pull.number}/merge"
    urllib.request.urlopen(urllib.request.Request(merge, method="POST"), timeout=10).close()  # noqa: S310
    [merged] = forge.merged_since(before)
    assert (merged.number, merged.head, merged.state, merged.url) == (pull.number, HEAD, "merged", pull.url)
    assert forge.merged_since(datetime.now(UTC) + timedelta(minutes=1)) == []  # merged before that
    page = get(pull.url)
    assert '<span class="state merged">merged' in page and "Merge pull request" not in page


def test_the_pages_merge_button_merges_and_comes_back(forge_sandbox: SandboxServer) -> None:
    pull = provider(forge_sandbox).open_or_update(DRAFT).pull_request
    assert "Merge pull request</button>" in get(pull.url)
    form = urllib.parse.urlencode({"from": "page"}).encode()
    merge = urllib.request.Request(f"{forge_sandbox.url}/forge/_admin/pulls/{pull.number}/merge", form, method="POST")  # noqa: S310
    with urllib.request.urlopen(merge, timeout=10) as answer:  # noqa: S310 - the loopback sandbox; follows the 303
        assert answer.url == pull.url and '<span class="state merged">merged' in answer.read().decode()


def test_github_refusals(forge_sandbox: SandboxServer) -> None:
    with pytest.raises(ForgePermission, match="401"):
        provider(forge_sandbox, token="wrong").find(HEAD)
    with pytest.raises(ForgeNotFound, match="404"):
        provider(forge_sandbox, repository="demo/other").find(HEAD)
    with pytest.raises(ForgeInvalid, match="422"):
        provider(forge_sandbox).open_or_update(dataclasses.replace(DRAFT, head="jira/NOPE-1"))


def test_its_pull_requests_have_the_shape_the_provider_tests_use(forge_sandbox: SandboxServer) -> None:
    provider(forge_sandbox).open_or_update(DRAFT)
    request = urllib.request.Request(  # noqa: S310 - the loopback sandbox
        f"{forge_sandbox.url}/forge/api/repos/demo/demo-repo/pulls/1",
        headers={"Authorization": f"token {SANDBOX_FORGE_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the loopback sandbox
        served = json.loads(answer.read())
    shared = github_pull()
    assert set(shared) <= set(served) and set(shared["head"]) <= set(served["head"])


def test_make_run_points_the_forge_at_the_sandbox_unless_one_is_configured() -> None:
    env = sandbox_forge_env(Settings.from_env({"SANDBOX_JIRA_PORT": "8123"}, env_file=None))
    assert env == {
        "FORGE": "github",
        "FORGE_URL": "http://127.0.0.1:8123/forge/api",
        "FORGE_REPOSITORY": "demo/demo-repo",
        "FORGE_TOKEN": SANDBOX_FORGE_TOKEN,
    }
    configured = {"FORGE": "gitlab", "FORGE_REPOSITORY": "a/b", "FORGE_TOKEN": "t"}
    assert sandbox_forge_env(Settings.from_env(configured, env_file=None)) == {}
    real_site = {"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_WEBHOOK_SECRET": "s"}
    assert sandbox_forge_env(Settings.from_env(real_site, env_file=None)) == {}
    assert "sandbox forge http://127.0.0.1:8123/forge/demo/demo-repo" in banner(
        Settings.from_env({"SANDBOX_JIRA_PORT": "8123", **env}, env_file=None)
    )
