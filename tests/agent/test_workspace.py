"""Workspaces (real git): a job starts from the commit it was handed, whatever a killed command left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.agent_server.demo_repo import ensure_repository
from app.agent_server.workspace import Workspaces, git


@pytest.fixture
def workspaces(tmp_path: Path) -> Workspaces:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    git_env = env | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                     "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    ensure_repository(tmp_path / "repo", git_env)
    return Workspaces(tmp_path / "repo", tmp_path / "workspaces", git_env)


def test_lock_files_left_by_a_killed_git_command_do_not_block_the_next_job(workspaces: Workspaces) -> None:
    base = git(["rev-parse", "HEAD"], workspaces.repo, workspaces.env).strip()
    path = workspaces.prepare("DEMO-1", base)
    (path / "work.txt").write_text("first job\n")
    git(["add", "work.txt"], path, workspaces.env)
    git(["commit", "-qm", "first job"], path, workspaces.env)
    first = git(["rev-parse", "HEAD"], path, workspaces.env).strip()
    # A commit SIGKILLed half-way leaves the index, HEAD and branch locks behind; git refuses to work past them.
    gitdir = Path((path / ".git").read_text().removeprefix("gitdir:").strip())
    common = workspaces.repo / git(["rev-parse", "--git-common-dir"], workspaces.repo, workspaces.env).strip()
    stale = [gitdir / "index.lock", gitdir / "HEAD.lock", common / "refs/heads/jira/DEMO-1.lock"]
    for lock in stale:
        lock.write_text("")

    again = workspaces.prepare("DEMO-1", first)

    assert not any(lock.exists() for lock in stale)
    (again / "more.txt").write_text("second job\n")
    git(["add", "more.txt"], again, workspaces.env)
    git(["commit", "-qm", "second job"], again, workspaces.env)
    log = git(["log", "--format=%s", "jira/DEMO-1"], workspaces.repo, workspaces.env).split("\n")
    assert log[:2] == ["second job", "first job"]
