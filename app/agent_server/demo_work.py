"""What the demo steps read off their real work: git in the worktree, the commit's diff stat, the test runner's
counts and failures, a Python file's imports (read as text, never run)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

TEST_COMMAND = [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."]


def git(*args: str) -> str:
    """Run git in the worktree; fail the step loudly if git fails."""
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def commit(job: dict[str, Any], message: str, paths: list[str]) -> str:
    """Commit `paths` if they changed; the new commit's one-line description, or "" when nothing changed."""
    git("add", "--", *paths)
    if not git("status", "--porcelain", "--", *paths).strip():
        print("nothing changed; no commit")
        return ""
    git("commit", "--quiet", "-m", f"{job['issue_key']}: {message}")
    line = git("log", "-1", "--format=%h %s").strip()
    print(f"committed {line}")
    return line


def changes(commit_line: str) -> dict[str, Any]:
    """The figures of the commit just made (`git show --numstat`): files, lines added and removed."""
    if not commit_line:
        return {"files_changed": [], "commits": [], "lines_added": 0, "lines_removed": 0}
    files, added, removed = [], 0, 0
    for line in git("show", "--numstat", "--format=", "HEAD").splitlines():
        plus, minus, name = [*line.split("\t", 2), "", "", ""][:3]
        if name:
            files.append(name)
            added += int(plus) if plus.isdigit() else 0
            removed += int(minus) if minus.isdigit() else 0
    return {"files_changed": files, "commits": [commit_line], "lines_added": added, "lines_removed": removed}


@dataclass(frozen=True)
class SuiteOutcome:
    """One run of the repository's tests, as unittest reported it."""

    passed: bool
    output: str
    counts: dict[str, Any]


def run_tests() -> SuiteOutcome:
    """Run the repository's tests (verbose) and read unittest's counts and failures off its report."""
    done = subprocess.run([*TEST_COMMAND, "-v"], capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    return SuiteOutcome(done.returncode == 0, output, suite_counts(output))


def suite_counts(output: str) -> dict[str, Any]:
    """unittest's "Ran N tests" and "FAILED (failures=1, skipped=2)" lines, and each failure's first error line."""
    ran_match = re.search(r"^Ran (\d+) tests?", output, re.M)
    ran = int(ran_match.group(1)) if ran_match else 0
    tallies = {
        key: int(value) for key, value in re.findall(r"(failures|errors|skipped|expected failures)=(\d+)", output)
    }
    failures = []
    blocks = re.split(r"^=+$", output, flags=re.M)[1:]
    for block in blocks:
        head = re.match(r"\s*(FAIL|ERROR): (.+)", block)
        if head is None:
            continue
        after = re.split(r"^-+$", block, maxsplit=1, flags=re.M)[-1]
        error = next(
            (
                line.strip()
                for line in after.splitlines()
                if line.strip() and not line.startswith((" ", "-", "Traceback")) and not line.startswith("\t")
            ),
            "",
        )
        failures.append({"name": head.group(2).strip()[:1000], "error": error[:4000]})
    failed = tallies.get("failures", 0) + tallies.get("errors", 0)
    skipped = tallies.get("skipped", 0)
    passed = max(0, ran - failed - skipped - tallies.get("expected failures", 0))
    return {"passed": passed, "failed": failed, "skipped": skipped, "failures": failures[:500], "coverage": None}


def imports_of(text: str) -> list[str]:
    """The top-level modules a Python file imports (read as text, never run)."""
    return re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)", text, re.M)
