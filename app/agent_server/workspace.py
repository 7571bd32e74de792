"""Workspaces: one git worktree of the configured repository per issue, on branch jira/<KEY>, one job at a time.

Several agents may share the repository (agents on one host, each with its own AGENT_WORKSPACE_DIR): the
worktree bookkeeping (add, remove, prune) then takes a lock file in the repository, because git does not guard
it across processes. A `git worktree prune` running while another process's `git worktree add` has created the
new worktree's entry but not yet its `gitdir` file deletes that entry, and the add fails.

Which commit a job starts from, and how its work reaches the next job, is app/agent_server/handover.py's business.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
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


# How guarded paths are recorded: a file by its bytes; a link, folder or anything else by a marker (never read
# through a link or a fifo: it may be /dev/zero or never answer).
LINK, FOLDER, SPECIAL = b"\0symlink:", b"\0folder", b"\0special"


def _read(path: Path) -> bytes:
    if path.is_symlink():
        return LINK + os.readlink(path).encode()
    if path.is_dir():
        return FOLDER
    return path.read_bytes() if path.is_file() else SPECIAL


def _read_all(paths: list[Path]) -> dict[Path, bytes]:
    return {path: _read(path) for path in paths if path.is_symlink() or path.exists()}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)  # a command put a folder where a file was
    else:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # inside a folder removed just before
            path.unlink()


def _restore(path: Path, content: bytes) -> None:
    if content.startswith(LINK):
        path.symlink_to(content.removeprefix(LINK).decode())
    elif content == FOLDER:
        path.mkdir()
    elif content != SPECIAL:
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
        self._shared: dict[Path, bytes] | None = None  # the git config and hooks as the agent found them

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
        """Around a command in the issue's worktree: afterwards, the repository's git config and hooks are as the
        agent first found them, and the worktree's own git files as they were before; the yielded list names what
        the command had changed."""
        own = self._own_paths(issue_key)
        before = {**self._baseline(), **_read_all(own)}
        changed: list[str] = []
        try:
            yield changed
        finally:
            with self._guard:  # one restore at a time: commands of other issues end concurrently
                after = _read_all([*self._shared_paths(), *own])
                for path in sorted(set(before) | set(after)):
                    if before.get(path) != after.get(path):
                        changed.append(str(path))
                        _remove(path)
                        if path in before:
                            _restore(path, before[path])

    def _baseline(self) -> dict[Path, bytes]:
        # Recorded once, before any command ran: a "before" taken per command could catch another issue's command
        # in the middle of its changes, and its restore would then put them back.
        with self._guard:
            if self._shared is None:
                self._shared = _read_all(self._shared_paths())
            return self._shared

    def _shared_paths(self) -> list[Path]:
        # What a later git call would obey: config (url.*.insteadOf could send the token elsewhere; core.fsmonitor,
        # credential.helper and core.sshCommand run programs) and hooks (off for the agent's own git calls, but a
        # person running git in the repository would run them).
        gitdir = self._git_dir()
        hooks = gitdir / "hooks"
        inside = []
        if hooks.is_dir() and not hooks.is_symlink():
            # os.walk never descends through a link: a hooks/x -> / must not make every file a "new hook".
            for folder, folders, files in os.walk(hooks):
                inside += [Path(folder) / name for name in (*folders, *files)]
        return [gitdir / "config", hooks, *sorted(inside)]

    def _own_paths(self, issue_key: str) -> list[Path]:
        # The worktree's .git file names its git directory (the agent's next git calls there follow it), and that
        # directory's config.worktree adds config. One job of an issue runs at a time: "before" is safe here.
        dot_git = self.path(issue_key) / ".git"
        if not dot_git.is_file():
            return []
        return [dot_git, Path(dot_git.read_text().removeprefix("gitdir:").strip()) / "config.worktree"]

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
