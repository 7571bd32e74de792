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


def test_git_config_hooks_and_the_worktrees_git_file_are_put_back_after_a_command(workspaces: Workspaces) -> None:
    base = git(["rev-parse", "HEAD"], workspaces.repo, workspaces.env).strip()
    path = workspaces.prepare("DEMO-1", base)
    common = workspaces.common_dir()
    config, dot_git = (common / "config").read_bytes(), (path / ".git").read_bytes()
    hooks = sorted(p.name for p in (common / "hooks").iterdir())
    with workspaces.guarded("DEMO-1") as changed:
        # What a hostile command might do: send the push elsewhere, plant hooks, point the worktree elsewhere.
        git(["config", "url./tmp/evil.insteadOf", "https://"], path, workspaces.env)
        (common / "hooks" / "pre-push").write_text("#!/bin/sh\ntouch /tmp/ran\n")
        (common / "hooks" / "post-checkout").mkdir()
        (common / "hooks" / "pre-commit").symlink_to("/dev/zero")
        (path / ".git").write_text("gitdir: /tmp/elsewhere\n")
    assert (common / "config").read_bytes() == config and (path / ".git").read_bytes() == dot_git
    assert sorted(p.name for p in (common / "hooks").iterdir()) == hooks
    hook_changes = [str(common / "hooks" / name) for name in ("post-checkout", "pre-commit", "pre-push")]
    assert sorted(changed) == sorted([str(common / "config"), *hook_changes, str(path / ".git")])


def test_a_command_of_another_issue_mid_change_is_not_taken_for_the_baseline(workspaces: Workspaces) -> None:
    base = git(["rev-parse", "HEAD"], workspaces.repo, workspaces.env).strip()
    for key in ("DEMO-1", "DEMO-2"):
        workspaces.prepare(key, base)
    config = workspaces.common_dir() / "config"
    clean = config.read_bytes()
    with workspaces.guarded("DEMO-1"):
        config.write_bytes(clean + b"[core]\n\tfsmonitor = /tmp/evil\n")  # DEMO-1's command, still running
        with workspaces.guarded("DEMO-2"):  # DEMO-2's command starts meanwhile, and ends first
            pass
        assert config.read_bytes() == clean
        config.write_bytes(clean + b"[core]\n\tfsmonitor = /tmp/evil\n")
    assert config.read_bytes() == clean


def test_hooks_replaced_by_a_link_are_put_back_without_touching_what_it_points_to(
    workspaces: Workspaces, tmp_path: Path
) -> None:
    base = git(["rev-parse", "HEAD"], workspaces.repo, workspaces.env).strip()
    workspaces.prepare("DEMO-1", base)
    hooks = workspaces.common_dir() / "hooks"
    samples = sorted(p.name for p in hooks.iterdir())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the agent's to delete\n")
    with workspaces.guarded("DEMO-1"):
        hooks.rename(tmp_path / "old-hooks")
        hooks.symlink_to(outside)
        (workspaces.path("DEMO-1") / "link").symlink_to(outside)
    assert not hooks.is_symlink() and sorted(p.name for p in hooks.iterdir()) == samples
    assert (outside / "keep.txt").read_text() == "not the agent's to delete\n"
