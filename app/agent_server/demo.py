"""The demo profile's steps (`python -m app.agent_server.demo <step> <job.json>`): deterministic, offline git work.

Each step runs in the issue's worktree, prints what it does (streamed back as log lines), commits what it
changes, and writes {"summary", "outputs", "result"} to the job's result file: "result" is the phase's typed result
(app/agent_client/result.schema.json), every figure in it read off the real work (the files and words found, the
plan's steps, `git show --numstat`, the test runner's counts). CODE's greeting is deliberately off by one
character, so the first TEST fails and FIX has a real failure to repair: the test/fix loop is visible.

Ticket text is data here: it is written into Markdown files and printed, never into source code or a command line.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.agent_server.demo_work import changes, commit, git, imports_of, run_tests

# Words too common to say anything about where an issue touches the code.
STOPWORDS = frozenset(
    "this that with from have will should would could about into when what which their there them they then "  # noqa: SIM905
    "than also just only some such each more most other issue phase context prompt please make sure".split()
)


@dataclass
class Done:
    """What a step reports: its one-line summary, named outputs, success, and the typed result document section."""

    summary: str
    outputs: dict[str, str]
    ok: bool = True
    result: dict[str, Any] | None = None
    error_kind: str = ""


def main(argv: list[str]) -> int:
    """Run one step; the exit code says whether it succeeded."""
    if len(argv) != 2 or argv[0] not in STEPS:
        print(f"usage: python -m app.agent_server.demo {{{','.join(STEPS)}}} JOB_FILE", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text())
    done = STEPS[argv[0]](job)
    report: dict[str, Any] = {"summary": done.summary, "outputs": done.outputs}
    if done.result is not None:
        report["result"] = {"version": 1, argv[0]: done.result}
    if done.error_kind:
        report["error_kind"] = done.error_kind
    Path(job["result_file"]).write_text(json.dumps(report))
    print(done.summary)
    return 0 if done.ok else 1


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
    """The request's distinct words of four letters or more, in order of appearance."""
    return words_of(issue_text(job))[:40]


def words_of(text: str) -> list[str]:
    """Distinct lower-case words of four letters or more, common words left out, in order of appearance."""
    seen: dict[str, None] = {}
    for word in re.findall(r"[A-Za-z][A-Za-z_]{3,}", text):
        if word.lower() not in STOPWORDS:
            seen.setdefault(word.lower(), None)
    return list(seen)


def issue_field(job: dict[str, Any], name: str) -> str:
    """A text field of the issue from the context (the workflow nests it under "issue"; a direct call may not)."""
    context = job.get("context", {})
    if not isinstance(context, dict):
        return ""
    issue = context.get("issue")
    value = issue.get(name) if isinstance(issue, dict) else None
    if value is None:
        value = context.get(name)
    return value.strip() if isinstance(value, str) else ""


def summary_of(job: dict[str, Any]) -> str:
    """The issue's one-line summary (from the context, else the prompt's first line)."""
    summary = " ".join(issue_field(job, "summary").split())
    if summary:
        return summary[:200]
    first = next((line.strip() for line in job.get("prompt", "").splitlines() if line.strip()), "")
    return first[:120] or job["issue_key"]


def feedback_of(job: dict[str, Any]) -> str:
    """The reviewer's feedback this attempt must answer (after a /reject), on one line."""
    context = job.get("context", {})
    feedback = context.get("feedback") if isinstance(context, dict) else None
    return " ".join(feedback.split())[:300] if isinstance(feedback, str) else ""


def module_name(job: dict[str, Any]) -> str:
    """The module CODE writes for this issue, e.g. issue_demo_1."""
    return "issue_" + re.sub(r"[^a-z0-9]+", "_", job["issue_key"].lower())


def requirements(job: dict[str, Any]) -> list[str]:
    """What the issue asks for: its description's lines (list markers dropped), else its summary."""
    lines = []
    for raw in issue_field(job, "description").splitlines():
        line = re.sub(r"^\s*(?:[-*#]+|\d+[.)])\s*", "", raw).strip()
        if line and not line.startswith(("{", "h1.", "h2.", "h3.")):
            lines.append(line[:1000])
    return lines[:20] or [summary_of(job)]


def explore(job: dict[str, Any]) -> Done:
    """List the repository, find the issue's words in it, and say what it asks, touches, depends on and leaves open."""
    files = [f for f in git("ls-files").splitlines() if f]
    print(f"repository: {len(files)} files")
    for name in files:
        print(f"  {name}")
    texts = {name: Path(name).read_text(errors="replace") for name in files if Path(name).is_file()}
    words = issue_words(job)
    found = {word: [name for name, text in texts.items() if word in text.lower()] for word in words}
    lines = [f"{word}: {', '.join(names)}" for word, names in found.items() if names]
    print(f"issue words found in the repository ({len(lines)} of {len(words)}):")
    for line in lines:
        print(f"  {line}")
    affected = [name for name in files if any(name in names for names in found.values())]
    local = {Path(name).stem for name in files if name.endswith(".py")}
    dependencies = sorted(
        {module for name in affected if name.endswith(".py") for module in imports_of(texts.get(name, ""))} - local
    )
    untested = [
        name
        for name in affected
        if name.endswith(".py")
        and not name.startswith("tests/")
        and not any(Path(name).stem in texts[test] for test in texts if test.startswith("tests/"))
    ]
    risks = [f"{name} has no test that names it" for name in untested]
    if not affected:
        risks.append("none of the issue's words appear in the repository: the change is new code")
    # Questions about the issue's own words only (the prompt and context also name phases and roles).
    own = set(words_of(f"{issue_field(job, 'summary')}\n{issue_field(job, 'description')}"))
    missing = [word for word, names in found.items() if not names and word in own]
    questions = [
        f"The issue says '{word}', which the repository never mentions: what does it refer to?" for word in missing[:5]
    ]
    complexity = "low" if len(affected) <= 2 else "medium" if len(affected) <= 5 else "high"
    findings = "\n".join(
        [
            f"Files ({len(files)}): {', '.join(files)}",
            "Issue words found:",
            *lines,
            f"Affected files: {', '.join(affected) or 'none'} (complexity {complexity})",
        ]
    )
    result = {
        "requirements": requirements(job),
        "affected_files": affected,
        "dependencies": dependencies,
        "complexity": complexity,
        "risks": risks,
        "open_questions": questions,
    }
    return Done(
        f"{len(files)} files; {len(lines)} of {len(words)} issue words found", {"findings": findings}, True, result
    )


def plan_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's ordered steps (what, where, how to verify); a reviewer's feedback becomes a step of its own."""
    module, key = module_name(job), job["issue_key"]
    test = f"tests/test_{module}.py"
    steps: list[dict[str, Any]] = [
        {
            "what": f"Add greet_issue(name) in {module}.py, built on greeting.greet, naming {key}.",
            "where": [f"{module}.py"],
            "verify": f"{test} passes",
        },
        {"what": f"Add {test} with the expected greeting.", "where": [test], "verify": "the new test runs"},
        {"what": "Run the test suite; fix what fails.", "where": [], "verify": "every test passes"},
    ]
    feedback = feedback_of(job)
    if feedback:
        steps.append(
            {"what": f"Address the review feedback: {feedback}", "where": [], "verify": "the reviewer approves"}
        )
    steps.append({"what": "Add a changelog entry.", "where": ["CHANGELOG.md"], "verify": f"CHANGELOG.md names {key}"})
    return steps


def plan(job: dict[str, Any]) -> Done:
    """Write and commit a plan file; its steps are the typed plan."""
    steps = plan_steps(job)
    lines = [f"# Plan for {job['issue_key']}: {summary_of(job)}", ""]
    for number, step in enumerate(steps, 1):
        lines.append(f"{number}. {step['what']}")
        if step["where"]:
            lines.append(f"   - where: {', '.join(step['where'])}")
        lines.append(f"   - verify: {step['verify']}")
    lines += ["", "Risk: low · Estimate: one small commit per step", ""]
    text = "\n".join(lines)
    path = Path("docs/plans") / f"{job['issue_key']}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    commit(job, "plan", [str(path)])
    files = list(dict.fromkeys(name for step in steps for name in step["where"]))
    result = {"steps": steps, "files": files, "risk": "low", "estimate": "one small commit per step"}
    return Done(f"plan written to {path}", {"plan": text}, True, result)


def code(job: dict[str, Any]) -> Done:
    """Implement greet_issue with its test, and commit (the implementation drops the closing parenthesis)."""
    module, key = module_name(job), job["issue_key"]
    Path(f"{module}.py").write_text(
        f'"""greet_issue for {key} (the issue is described in docs/plans/{key}.md)."""\n\n'
        "from greeting import greet\n\n\n"
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
    return Done(f"implemented greet_issue in {module}.py", {"commits": line}, True, changes(line))


def test(job: dict[str, Any]) -> Done:
    """Run the repository's tests and report their counts; failing tests are TESTS_FAILED, for FIX to repair."""
    suite = run_tests()
    print(suite.output.rstrip())
    counts = suite.counts
    summary = "the tests pass" if suite.passed else "the tests fail"  # the counts are the typed result's
    tail = "\n".join(suite.output.rstrip().splitlines()[-60:])
    error_kind = "" if suite.passed else "TESTS_FAILED"
    return Done(summary, {"test_report": tail}, suite.passed, counts, error_kind)


def fix(job: dict[str, Any]) -> Done:
    """Run the tests; repair greet_issue if they fail; commit; confirm with a second run."""
    before = run_tests()
    if before.passed:
        nothing = {"changed": [], "why": "the tests already pass", **changes("")}
        return Done("the tests already pass; nothing to fix", {"commits": ""}, True, nothing)
    print("failing tests:")
    for line in before.output.splitlines()[-15:]:
        print(f"  {line}")
    path, key = Path(f"{module_name(job)}.py"), job["issue_key"]
    if not path.is_file():
        return Done(f"the tests fail and {path} does not exist; nothing this step can fix", {}, False)
    path.write_text(path.read_text().replace(f'" ({key}"\n', f'" ({key})"\n'))
    print(f"{path}: close the parenthesis after the issue key")
    line = commit(job, "close the parenthesis in greet_issue", [str(path)])
    after = run_tests()
    print("tests after the fix: " + ("pass" if after.passed else "still failing"))
    first = before.counts["failures"][0] if before.counts["failures"] else {"name": "the suite", "error": ""}
    result = {
        "changed": [f"{path}: close the parenthesis after the issue key"],
        "why": f"{first['name']} failed: {first['error']}".strip()[:4000],
        **changes(line),
    }
    summary = "fixed greet_issue; the tests pass" if after.passed else "the tests still fail"
    return Done(summary, {"commits": line}, after.passed, result)


def document(job: dict[str, Any]) -> Done:
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
    return Done("changelog entry added", {"changelog": entry}, True, {"docs_touched": [str(path)], "changelog": entry})


STEPS: dict[str, Callable[[dict[str, Any]], Done]] = {
    "explore": explore,
    "plan": plan,
    "code": code,
    "test": test,
    "fix": fix,
    "document": document,
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
