"""The demo profile's steps (`python -m app.agent_server.demo <step> <job.json>`): deterministic, offline git work.

Each step runs in the issue's worktree, prints what it does (streamed back as log lines), commits what it
changes, and writes {"summary", "outputs"} to the job's result file. CODE's greeting is deliberately off by one
character, so the first TEST fails and FIX has a real failure to repair: the test/fix loop is visible.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEST_COMMAND = [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."]
# Words too common to say anything about where an issue touches the code.
STOPWORDS = frozenset(
    "this that with from have will should would could about into when what which their there them they then "  # noqa: SIM905
    "than also just only some such each more most other issue phase context prompt please make sure".split()
)


def main(argv: list[str]) -> int:
    """Run one step; the exit code says whether it succeeded."""
    if len(argv) != 2 or argv[0] not in STEPS:
        print(f"usage: python -m app.agent_server.demo {{{','.join(STEPS)}}} JOB_FILE", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text())
    summary, outputs, ok = STEPS[argv[0]](job)
    Path(job["result_file"]).write_text(json.dumps({"summary": summary, "outputs": outputs}))
    print(summary)
    return 0 if ok else 1


def issue_text(job: dict[str, Any]) -> str:
    """Everything the request says about the issue (prompt and every string in the context)."""
    parts = [job.get("prompt", "")]

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(job.get("context", {}))
    return "\n".join(parts)


def issue_words(job: dict[str, Any]) -> list[str]:
    """The issue's distinct words of four letters or more, in order of appearance."""
    seen: dict[str, None] = {}
    for word in re.findall(r"[A-Za-z][A-Za-z_]{3,}", issue_text(job)):
        if word.lower() not in STOPWORDS:
            seen.setdefault(word.lower(), None)
    return list(seen)[:40]


def summary_of(job: dict[str, Any]) -> str:
    """The issue's one-line summary (from the context, else the prompt's first line)."""
    context = job.get("context", {})
    summary = context.get("summary") if isinstance(context, dict) else None
    if isinstance(summary, str) and summary.strip():
        return summary.strip()
    first = next((line.strip() for line in job.get("prompt", "").splitlines() if line.strip()), "")
    return first[:120] or job["issue_key"]


def module_name(job: dict[str, Any]) -> str:
    """The module CODE writes for this issue, e.g. issue_demo_1."""
    return "issue_" + re.sub(r"[^a-z0-9]+", "_", job["issue_key"].lower())


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


def run_tests() -> tuple[bool, str]:
    """Run the repository's tests; (passed, their output)."""
    done = subprocess.run(TEST_COMMAND, capture_output=True, text=True, check=False)
    return done.returncode == 0, done.stdout + done.stderr


def explore(job: dict[str, Any]) -> tuple[str, dict[str, str], bool]:
    """List the repository and the issue's words found in it."""
    files = [f for f in git("ls-files").splitlines() if f]
    print(f"repository: {len(files)} files")
    for name in files:
        print(f"  {name}")
    texts = {name: Path(name).read_text(errors="replace").lower() for name in files if Path(name).is_file()}
    words = issue_words(job)
    found = {word: [name for name, text in texts.items() if word in text] for word in words}
    lines = [f"{word}: {', '.join(names)}" for word, names in found.items() if names]
    print(f"issue words found in the repository ({len(lines)} of {len(words)}):")
    for line in lines:
        print(f"  {line}")
    findings = "\n".join([f"Files ({len(files)}): {', '.join(files)}", "Issue words found:", *lines])
    return f"{len(files)} files; {len(lines)} of {len(words)} issue words found", {"findings": findings}, True


def plan(job: dict[str, Any]) -> tuple[str, dict[str, str], bool]:
    """Write and commit a plan file."""
    module = module_name(job)
    text = "\n".join(
        [
            f"# Plan for {job['issue_key']}: {summary_of(job)}",
            "",
            f"1. Add `greet_issue(name)` in `{module}.py`, built on `greeting.greet`, naming {job['issue_key']}.",
            f"2. Add `tests/test_{module}.py` with the expected greeting.",
            "3. Run the test suite; fix what fails.",
            "4. Add a changelog entry.",
            "",
        ]
    )
    path = Path("docs/plans") / f"{job['issue_key']}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    commit(job, "plan", [str(path)])
    return f"plan written to {path}", {"plan": text}, True


def code(job: dict[str, Any]) -> tuple[str, dict[str, str], bool]:
    """Implement greet_issue with its test, and commit (the implementation drops the closing parenthesis)."""
    module, key = module_name(job), job["issue_key"]
    Path(f"{module}.py").write_text(
        f'"""{key}: {summary_of(job)}"""\n\nfrom greeting import greet\n\n\n'
        f"def greet_issue(name: str) -> str:\n"
        f'    """Greet `name` and say which issue asked for it."""\n'
        f'    return greet(name) + " ({key}"\n'
    )
    test = Path("tests") / f"test_{module}.py"
    test.write_text(
        f"import unittest\n\nfrom {module} import greet_issue\n\n\n"
        f"class GreetIssueTest(unittest.TestCase):\n"
        f"    def test_names_the_issue(self) -> None:\n"
        f'        self.assertEqual(greet_issue("Ada"), "Hello, Ada! ({key})")\n'
    )
    print(f"wrote {module}.py and {test}")
    line = commit(job, "greet_issue and its test", [f"{module}.py", str(test)])
    return f"implemented greet_issue in {module}.py", {"commits": line}, True


def fix(job: dict[str, Any]) -> tuple[str, dict[str, str], bool]:
    """Run the tests; repair greet_issue if they fail; commit; confirm with a second run."""
    passed, output = run_tests()
    if passed:
        return "the tests already pass; nothing to fix", {"commits": ""}, True
    print("failing tests:")
    for line in output.splitlines()[-15:]:
        print(f"  {line}")
    path, key = Path(f"{module_name(job)}.py"), job["issue_key"]
    if not path.is_file():
        return f"the tests fail and {path} does not exist; nothing this step can fix", {}, False
    path.write_text(path.read_text().replace(f'" ({key}"\n', f'" ({key})"\n'))
    print(f"{path}: close the parenthesis after the issue key")
    line = commit(job, "close the parenthesis in greet_issue", [str(path)])
    passed, output = run_tests()
    print("tests after the fix: " + ("pass" if passed else "still failing"))
    return ("fixed greet_issue; the tests pass" if passed else "the tests still fail"), {"commits": line}, passed


def document(job: dict[str, Any]) -> tuple[str, dict[str, str], bool]:
    """Add (once) and commit a changelog entry."""
    path = Path("CHANGELOG.md")
    text = path.read_text() if path.is_file() else "# Changelog\n\n## Unreleased\n"
    entry = f"- {job['issue_key']}: {summary_of(job)} (`greet_issue` in `{module_name(job)}.py`)"
    if f"- {job['issue_key']}:" not in text:
        marker = "## Unreleased\n"
        text = text.replace(marker, marker + entry + "\n", 1) if marker in text else text + "\n" + entry + "\n"
        path.write_text(text)
        print(f"CHANGELOG.md: {entry}")
    commit(job, "changelog", [str(path)])
    return "changelog entry added", {"changelog": entry}, True


STEPS: dict[str, Callable[[dict[str, Any]], tuple[str, dict[str, str], bool]]] = {
    "explore": explore,
    "plan": plan,
    "code": code,
    "fix": fix,
    "document": document,
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
