"""The demo repository (a small Python project with a real unittest suite) and its bare remote, made on demand."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from app.agent_server.workspace import WorkspaceError, git

README = """# Greeting service (demo repository)

A tiny project the orchestrator's demo agent works on. Each Jira issue gets a branch `jira/<KEY>` and a
`greet_issue` greeting that names the issue; the tests in `tests/` decide whether the work is done.

Run the tests: `python -m unittest discover -s tests -t . -v`
"""

GREETING = '''"""Greetings."""


def greet(name: str) -> str:
    """Greet someone by name."""
    return f"Hello, {name}!"
'''

TEST_GREETING = """import unittest

from greeting import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Ada"), "Hello, Ada!")


if __name__ == "__main__":
    unittest.main()
"""

CHANGELOG = """# Changelog

## Unreleased
"""

FILES = {
    "README.md": README,
    "greeting.py": GREETING,
    "tests/__init__.py": "",
    "tests/test_greeting.py": TEST_GREETING,
    "CHANGELOG.md": CHANGELOG,
    ".gitignore": "__pycache__/\n*.pyc\n",
}


def ensure_repository(repo: Path, env: Mapping[str, str]) -> bool:
    """Create the demo repository at `repo` unless a git repository is already there; True when created."""
    if (repo / ".git").exists():
        return False
    if repo.exists() and any(repo.iterdir()):
        raise WorkspaceError(f"{repo} exists but is not a git repository; point AGENT_REPO at a repository")
    repo.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(["init", "--quiet", "--initial-branch=main"], repo, env)
    git(["add", "--all"], repo, env)
    git(["commit", "--quiet", "-m", "Greeting service: greet() and its test"], repo, env)
    return True


def clone_local_remote(repo: Path, remote: str, env: Mapping[str, str]) -> bool:
    """Clone a local `remote` that has commits to a missing `repo` (a second agent joining); True when cloned.

    Agents that work on one issue in turn must share history: a demo repository created afresh would not.
    """
    if (repo / ".git").exists() or _is_url(remote) or not (Path(remote) / "HEAD").exists():
        return False
    try:
        git(["rev-parse", "--verify", "--quiet", "HEAD"], Path(remote), env)
    except WorkspaceError:
        return False  # an empty remote: the demo repository is created and pushed instead
    if repo.exists() and any(repo.iterdir()):
        raise WorkspaceError(f"{repo} exists but is not a git repository; point AGENT_REPO at a repository")
    repo.parent.mkdir(parents=True, exist_ok=True)
    git(["clone", "--quiet", str(Path(remote).resolve()), str(repo)], repo.parent, env)
    return True


def ensure_bare_remote(remote: str, env: Mapping[str, str]) -> bool:
    """Create a bare repository at a local `remote` path if missing; URLs are left alone. True when created."""
    if _is_url(remote):
        return False
    path = Path(remote)
    if (path / "HEAD").exists():
        return False
    path.mkdir(parents=True, exist_ok=True)
    git(["init", "--quiet", "--bare", "--initial-branch=main"], path, env)
    return True


def _is_url(remote: str) -> bool:
    return "://" in remote or "@" in remote.split("/", 1)[0]
