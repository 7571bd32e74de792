"""Workspaces: one git worktree of the configured repository per issue, on branch jira/<KEY>, one job at a time.

Several agents may share the repository (agents on one host, each with its own AGENT_WORKSPACE_DIR): the
worktree bookkeeping (add, remove, prune) then takes a lock file in the repository, because git does not guard
it across processes. A `git worktree prune` running while another process's `git worktree add` has created the
new worktree's entry but not yet its `gitdir` file deletes that entry, and the add fails.

Which commit a job starts from, and how its work reaches the next job, is app/agent_server/handover.py's business.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from app.agent_client.protocol import branch_for

GIT_TIMEOUT = 120
# Settings every git call of the agent and of its commands runs with (as GIT_CONFIG_* variables, like `-c`).
# No hooks: a command can write the shared repository's hooks, and the hand-over's push holds the git token.
# No signing: a user's global signing setting would make every agent commit wait for a passphrase.
AGENT_GIT_CONFIG = {"core.hooksPath": "/dev/null", "core.fsmonitor": "false", "commit.gpgsign": "false"}


def git_config_env(config: Mapping[str, str] = AGENT_GIT_CONFIG) -> dict[str, str]:
    """`config` as the GIT_CONFIG_COUNT/KEY/VALUE environment variables git reads like `-c` options."""
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config.items()):
        env |= {f"GIT_CONFIG_KEY_{index}": key, f"GIT_CONFIG_VALUE_{index}": value}
    return env


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


LINK = b"symlink:"  # how a guarded symbolic link's target is recorded (never read through: it may be /dev/zero)


def _read(path: Path) -> bytes:
    return LINK + os.readlink(path).encode() if path.is_symlink() else path.read_bytes()


def _restore(path: Path, content: bytes) -> None:
    if content.startswith(LINK):
        path.symlink_to(content.removeprefix(LINK).decode())
    else:
        path.write_bytes(content)


class Workspaces:
    """The per-issue worktrees under `root`, and a lock per issue so one job at a time works in each."""

    def __init__(self, repo: Path, root: Path, env: Mapping[str, str]) -> None:
        self.repo = repo
        self.root = root
        self.env = dict(env)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._common_dir: Path | None = None

    def lock(self, issue_key: str) -> threading.Lock:
        """The issue's workspace lock."""
        with self._guard:
            return self._locks.setdefault(issue_key, threading.Lock())

    def path(self, issue_key: str) -> Path:
        """Where the issue's worktree lives."""
        return self.root / issue_key

    def prepare(self, issue_key: str, commit: str) -> Path:
        """The issue's worktree on jira/<KEY> at `commit`: the branch is set to it, and the worktree (created if
        missing) becomes a clean checkout of it. Tracked files are reset and untracked ones removed; ignored files
        (build caches, virtualenvs) stay. A job starts from exactly the commit it was handed, whatever an earlier
        job left behind."""
        path = self.path(issue_key)
        ref = f"refs/heads/{branch_for(issue_key)}"
        self._drop_stale_locks(path, ref)
        if self.commit_of(ref) != commit:
            git(["update-ref", "-m", "orchestrator: start a job", ref, commit], self.repo, self.env)
        if not (path / ".git").is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            with self._bookkeeping():
                git(["worktree", "prune"], self.repo, self.env)
                # --force: on a repository shared by agents on one host, another agent's worktree may have the
                # branch checked out; each worktree is brought to the branch's commit before each job anyway.
                git(["worktree", "add", "--force", str(path), branch_for(issue_key)], self.repo, self.env)
        git(["symbolic-ref", "HEAD", ref], path, self.env)  # a command may have left it elsewhere
        git(["reset", "--hard", "--quiet"], path, self.env)
        git(["clean", "-ffd", "--quiet"], path, self.env)
        return path

    def changes(self, issue_key: str) -> list[str]:
        """The worktree's uncommitted changes (`git status --porcelain` lines); none when there is no worktree."""
        path = self.path(issue_key)
        if not (path / ".git").is_file():
            return []
        return git(["status", "--porcelain"], path, self.env).splitlines()

    def commit_of(self, ref: str) -> str | None:
        """The commit a ref (or revision) names in the repository, or None when there is none."""
        try:
            return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], self.repo, self.env).strip()
        except WorkspaceError:
            return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when commit `older` is `newer` or one of its ancestors (False too when either is unknown)."""
        try:
            git(["merge-base", "--is-ancestor", older, newer], self.repo, self.env)
        except WorkspaceError:
            return False
        return True

    def release(self, issue_key: str) -> bool:
        """Remove the issue's worktree (its branch and commits stay); False when there was none."""
        path = self.path(issue_key)
        if not path.exists():
            return False
        with self._bookkeeping():
            git(["worktree", "remove", "--force", str(path)], self.repo, self.env)
            git(["worktree", "prune"], self.repo, self.env)
        return True

    @contextmanager
    def guarded(self, issue_key: str) -> Iterator[list[str]]:
        """Around a command in the issue's worktree: afterwards, the repository's git config and hooks are put back
        as they were; the yielded list names what the command had changed."""
        before = self._guarded_files(issue_key)
        changed: list[str] = []
        try:
            yield changed
        finally:
            after = self._guarded_files(issue_key)
            for path in sorted(set(before) | set(after)):
                if before.get(path) == after.get(path):
                    continue
                changed.append(str(path))
                path.unlink(missing_ok=True)
                if path in before:
                    _restore(path, before[path])

    def _guarded_files(self, issue_key: str) -> dict[Path, bytes]:
        # What a later git call would obey: config (url.*.insteadOf could send the token elsewhere; core.fsmonitor,
        # credential.helper and core.sshCommand run programs) and hooks (off for the agent's own git calls, but a
        # person running git in the repository would run them).
        gitdir = self._git_dir()
        paths = [gitdir / "config", *self._worktree_gitdirs(issue_key)]
        hooks = gitdir / "hooks"
        if hooks.is_dir():
            paths += [p for p in hooks.rglob("*") if p.is_symlink() or not p.is_dir()]
        return {path: _read(path) for path in paths if path.is_symlink() or path.is_file()}

    def _worktree_gitdirs(self, issue_key: str) -> list[Path]:
        dot_git = self.path(issue_key) / ".git"
        if not dot_git.is_file():
            return []
        return [Path(dot_git.read_text().removeprefix("gitdir:").strip()) / "config.worktree"]

    @contextmanager
    def _bookkeeping(self) -> Iterator[None]:
        """Hold the repository's worktree lock (shared by every agent process using the repository)."""
        with (self._git_dir() / "orchestrator-worktrees.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def common_dir(self) -> Path:
        """The repository's own git directory (shared by its worktrees)."""
        return self._git_dir()

    def _git_dir(self) -> Path:
        """The repository's own git directory (shared by its worktrees)."""
        if self._common_dir is None:
            common = git(["rev-parse", "--git-common-dir"], self.repo, self.env).strip()
            self._common_dir = self.repo / common
        return self._common_dir

    def _drop_stale_locks(self, path: Path, ref: str) -> None:
        # We hold the issue's lock, and the queue runs one job of an issue at a time, so no git command touches
        # this issue's branch or worktree now: a lock file here is left over from a command killed mid-way (a
        # cancelled job, an agent killed with SIGKILL) and would block every later commit or checkout.
        locks = [self._git_dir() / f"{ref}.lock"]
        if (path / ".git").is_file():
            gitdir = Path((path / ".git").read_text().removeprefix("gitdir:").strip())
            locks += [gitdir / "index.lock", gitdir / "HEAD.lock"]
        for lock in locks:
            lock.unlink(missing_ok=True)
