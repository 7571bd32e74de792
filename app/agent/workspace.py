"""Workspaces: one git worktree of the configured repository per issue, on branch jira/<KEY>, one job at a time.

Several agents may share the repository (agents on one host, each with its own AGENT_WORKSPACE_DIR): the
worktree bookkeeping (add, remove, prune) then takes a lock file in the repository, because git does not guard
it across processes. A `git worktree prune` running while another process's `git worktree add` has created the
new worktree's entry but not yet its `gitdir` file deletes that entry, and the add fails.
"""

from __future__ import annotations

import fcntl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from app.agent.protocol import branch_for

GIT_TIMEOUT = 120


class WorkspaceError(RuntimeError):
    """A git command behind a workspace failed; the message carries git's own words."""


def git(args: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    """Run git; its stdout, or WorkspaceError with its stderr."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise WorkspaceError(f"git {args[0]}: {err}") from None
    if done.returncode != 0:
        raise WorkspaceError(f"git {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


class Workspaces:
    """The per-issue worktrees under `root`, and a lock per issue so one job at a time works in each."""

    def __init__(self, repo: Path, root: Path, env: Mapping[str, str]) -> None:
        self.repo = repo
        self.root = root
        self.env = dict(env)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._bookkeeping_lock: Path | None = None

    def lock(self, issue_key: str) -> threading.Lock:
        """The issue's workspace lock."""
        with self._guard:
            return self._locks.setdefault(issue_key, threading.Lock())

    def path(self, issue_key: str) -> Path:
        """Where the issue's worktree lives."""
        return self.root / issue_key

    def prepare(self, issue_key: str) -> Path:
        """The issue's worktree on jira/<KEY>, created (from the branch, or from HEAD for a new branch) if missing."""
        path = self.path(issue_key)
        if (path / ".git").is_file():
            self._drop_stale_lock(path)
            return path
        self.root.mkdir(parents=True, exist_ok=True)
        with self._bookkeeping():
            git(["worktree", "prune"], self.repo, self.env)
            branch = branch_for(issue_key)
            if self._branch_exists(branch):
                git(["worktree", "add", "--force", str(path), branch], self.repo, self.env)
            else:
                git(["worktree", "add", "-b", branch, str(path), "HEAD"], self.repo, self.env)
        return path

    def release(self, issue_key: str) -> bool:
        """Remove the issue's worktree (its branch and commits stay); False when there was none."""
        path = self.path(issue_key)
        if not path.exists():
            return False
        with self._bookkeeping():
            git(["worktree", "remove", "--force", str(path)], self.repo, self.env)
            git(["worktree", "prune"], self.repo, self.env)
        return True

    def head(self, issue_key: str) -> str:
        """The worktree's HEAD commit."""
        return git(["rev-parse", "HEAD"], self.path(issue_key), self.env).strip()

    @contextmanager
    def _bookkeeping(self) -> Iterator[None]:
        """Hold the repository's worktree lock (shared by every agent process using the repository)."""
        if self._bookkeeping_lock is None:
            common = git(["rev-parse", "--git-common-dir"], self.repo, self.env).strip()
            self._bookkeeping_lock = (self.repo / common) / "orchestrator-worktrees.lock"
        with self._bookkeeping_lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def _branch_exists(self, branch: str) -> bool:
        try:
            git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], self.repo, self.env)
        except WorkspaceError:
            return False
        return True

    def _drop_stale_lock(self, path: Path) -> None:
        # We hold the issue's lock, so no git command of ours runs here: an index.lock is left over from a
        # command killed mid-way (a cancelled job, an agent killed with SIGKILL) and would block every commit.
        gitdir = (path / ".git").read_text().removeprefix("gitdir:").strip()
        lock = Path(gitdir) / "index.lock"
        if lock.exists():
            lock.unlink()
