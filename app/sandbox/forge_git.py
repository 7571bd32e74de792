"""What the sandbox forge reads of the demo bare remote: branches, commits and diffs (git, read-only, bounded)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 10.0
MAX_DIFF = 200_000  # characters of a diff shown on a page


@dataclass(frozen=True)
class Commit:
    """One commit of a pull request."""

    sha: str
    subject: str


class Remote:
    """The bare repository the demo agent pushes issue branches to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def default_branch(self) -> str:
        """The branch HEAD names (`main` when the remote does not exist yet)."""
        return self._git("symbolic-ref", "--short", "HEAD").strip() or "main"

    def sha(self, branch: str) -> str | None:
        """The branch's tip, or None when there is no such branch."""
        return self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}").strip() or None

    def commits(self, base: str, head: str) -> list[Commit]:
        """The head's commits that the base lacks, oldest first."""
        out = self._git("log", "--reverse", "--format=%H%x00%s", f"refs/heads/{base}..refs/heads/{head}")
        return [Commit(*line.split("\0", 1)) for line in out.splitlines() if "\0" in line]

    def diff(self, base: str, head: str) -> str:
        """The head's changes since it left the base (three dots: what the pull request would merge)."""
        text = self._git("diff", f"refs/heads/{base}...refs/heads/{head}")
        return text if len(text) <= MAX_DIFF else text[:MAX_DIFF] + "\n… (diff cut)\n"

    def _git(self, *args: str) -> str:
        if not self.path.is_dir():
            return ""
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        return done.stdout if done.returncode == 0 else ""
