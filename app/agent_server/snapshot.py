"""A detached snapshot of an issue's worktree, for the commands that run untrusted code (TEST, runVerification).

The tests a TEST step runs were written by an AI from ticket text. In the issue's real worktree they could
write the shared repository's git directory (hooks, config) that later git calls, some holding the git token,
read. So they run in a throwaway copy instead: the worktree's files (ignored ones too: build caches,
virtualenvs) plus a git directory of its own (a clone sharing the repository's objects read-only, with its
branches), whose hooks and config nobody else ever reads. The copy is removed when the command ends; nothing
it did reaches the branch.

This does not rely on file permissions, so it holds when the agent runs as root, where a read-only mode stops
nobody. It is not a sandbox on its own: a process of the agent's user could still find and write the real
repository by its path; confinement.py makes it read-only where the host allows namespaces.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.agent_client.protocol import branch_for
from app.agent_server.workspace import Workspaces, git

FOLDER = ".snapshots"  # under AGENT_WORKSPACE_DIR


def home_of(snapshot_path: Path) -> Path:
    """The empty home folder a snapshot's command gets as HOME (beside the snapshot, so its git status stays
    clean): the agent's own HOME may hold ssh keys, git credentials or a coding tool's login."""
    return snapshot_path.with_name(f"{snapshot_path.name}.home")


@contextmanager
def snapshot(workspaces: Workspaces, issue_key: str) -> Iterator[Path]:
    """A detached copy of the issue's worktree at its branch's tip (and its empty home), removed afterwards."""
    source = workspaces.path(issue_key)
    target = workspaces.root / FOLDER / issue_key
    for leftover in (target, home_of(target)):  # left by an agent killed mid-command (one job per issue at a time)
        remove(leftover)
    home_of(target).mkdir(parents=True)
    env = workspaces.env
    try:
        # --shared: the snapshot reads the repository's objects in place (git never writes to an alternate) and
        # writes its own; unlike a plain local clone it hard-links nothing, so writing a file in the snapshot
        # never changes the repository's. --bare keeps the branches' names (main, jira/<KEY>) as they are.
        git(["clone", "--quiet", "--bare", "--shared", str(workspaces.repo), str(target / ".git")], target.parent, env)
        git(["config", "core.bare", "false"], target, env)
        git(["remote", "remove", "origin"], target, env)
        git(["symbolic-ref", "HEAD", f"refs/heads/{branch_for(issue_key)}"], target, env)
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, ignore=_top_level_git(source))
        git(["reset", "--quiet"], target, env)  # the index, from the commit the files already match
        yield target
    finally:
        remove(target)
        remove(home_of(target))


def _top_level_git(source: Path) -> Callable[[str, list[str]], list[str]]:
    def ignore(folder: str, names: list[str]) -> list[str]:
        return [".git"] if Path(folder) == source else []

    return ignore


def remove(path: Path) -> None:
    """Remove a snapshot, even one whose command made its folders read-only."""
    if not path.exists():
        return
    path.chmod(stat.S_IRWXU)
    for folder, names, _ in os.walk(path):
        for name in names:
            child = os.path.join(folder, name)
            if not os.path.islink(child):  # a link may point outside the snapshot: leave its target alone
                os.chmod(child, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
