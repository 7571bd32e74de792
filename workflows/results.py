"""Typed phase results: what each phase found, planned, changed, measured and wrote (result document version 1).

An agent reports them as a JSON document that meets app/agent_client/result.schema.json: `{"version": 1, "<phase
key>": {...}}` with the phase's key (`explore`, `plan`, `code`, `test`, `fix`, `document`). The agent activity
validates the document against the schema and reads it here; a document that does not meet it fails the job
with the validation message. An agent that reports only text still works: its phase has no typed result
("untyped") and the text is what people see.

Pure dataclasses and functions (the workflow sandbox imports them, so do the activities and the web pages). No
`from __future__ import annotations` here: Temporal's converter resolves string annotations through the module
table of the sandbox that decodes them, where this module may not be loaded yet; real annotations need no lookup.
"""

from dataclasses import dataclass, field
from typing import Any

RESULT_VERSION = 1
# The document's key of each phase's result.
PHASE_KEYS = {
    "EXPLORE": "explore",
    "PLAN": "plan",
    "CODE": "code",
    "TEST": "test",
    "FIX": "fix",
    "DOCUMENT": "document",
}


@dataclass(frozen=True)
class Findings:
    """EXPLORE: what the issue asks, where it touches the code, and what is uncertain."""

    requirements: list[str] = field(default_factory=list)
    affected_files: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    complexity: str = "unknown"  # low | medium | high | unknown
    risks: list[str] = field(default_factory=list)
    open_questions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanStep:
    """One step of a plan: what to do, where, and how to know it worked."""

    what: str
    where: list[str] = field(default_factory=list)
    verify: str = ""


@dataclass(frozen=True)
class Plan:
    """PLAN: ordered steps, the files to touch, the risk and an estimate."""

    steps: list[PlanStep] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    risk: str = "unknown"  # low | medium | high | unknown
    estimate: str = ""


@dataclass(frozen=True)
class Changes:
    """CODE: what the commits changed."""

    files_changed: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0


@dataclass(frozen=True)
class FailingTest:
    """A test that failed, with the first line of its error."""

    name: str
    error: str = ""


@dataclass(frozen=True)
class SuiteRun:
    """TEST: the counts of one run of the test suite, the failures, and coverage when known."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[FailingTest] = field(default_factory=list)
    coverage: float | None = None  # percent of lines covered, when the suite measures it


@dataclass(frozen=True)
class Fix:
    """FIX: what changed and why, and the commits' figures."""

    changed: list[str] = field(default_factory=list)
    why: str = ""
    files_changed: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0


@dataclass(frozen=True)
class Docs:
    """DOCUMENT: the documents touched and the changelog entry."""

    docs_touched: list[str] = field(default_factory=list)
    changelog: str = ""


@dataclass(frozen=True)
class PhaseResult:
    """One phase's typed result (exactly one section is set: the phase's own)."""

    version: int = RESULT_VERSION
    explore: Findings | None = None
    plan: Plan | None = None
    code: Changes | None = None
    test: SuiteRun | None = None
    fix: Fix | None = None
    document: Docs | None = None


class ResultError(ValueError):
    """A result document that is not the phase's typed result."""


def from_document(phase: str, document: dict[str, Any]) -> PhaseResult:
    """The typed result of `phase` from a schema-valid document; ResultError when it is another phase's."""
    key = PHASE_KEYS.get(phase)
    if key is None:
        raise ResultError(f"{phase} has no typed result")
    if document.get("version") != RESULT_VERSION:
        raise ResultError(f"version: expected {RESULT_VERSION}, got {document.get('version')!r}")
    given = [name for name in PHASE_KEYS.values() if name in document]
    if given != [key]:
        raise ResultError(f"a {phase} result has exactly one section, {key!r}; this one has {given or 'none'}")
    body = document[key]
    if key == "explore":
        return PhaseResult(explore=Findings(**body))
    if key == "plan":
        steps = [PlanStep(**step) for step in body.get("steps", [])]
        return PhaseResult(plan=Plan(**{**body, "steps": steps}))
    if key == "code":
        return PhaseResult(code=Changes(**body))
    if key == "test":
        failures = [FailingTest(**failure) for failure in body.get("failures", [])]
        return PhaseResult(test=SuiteRun(**{**body, "failures": failures}))
    if key == "fix":
        return PhaseResult(fix=Fix(**body))
    return PhaseResult(document=Docs(**body))


def plan_lines(plan: Plan) -> list[str]:
    """The plan as numbered text lines, one per step (the text its versions are compared by)."""
    lines = []
    for number, step in enumerate(plan.steps, 1):
        line = f"{number}. {step.what}"
        if step.where:
            line += f" [where: {', '.join(step.where)}]"
        if step.verify:
            line += f" [verify: {step.verify}]"
        lines.append(line)
    lines.append(f"Risk: {plan.risk}" + (f" · Estimate: {plan.estimate}" if plan.estimate else ""))
    if plan.files:
        lines.append("Files: " + ", ".join(plan.files))
    return lines


def figures(result: PhaseResult | None) -> str:
    """The result's figures on one line (`12 passed / 0 failed`, `3 files, +40 −2`), or "" when it has none."""
    if result is None:
        return ""
    if result.test is not None:
        run = result.test
        text = f"{run.passed} passed / {run.failed} failed" + (f" / {run.skipped} skipped" if run.skipped else "")
        return text + (f", coverage {run.coverage:g} %" if run.coverage is not None else "")
    changed = result.code or result.fix
    if changed is not None:
        count = len(changed.files_changed)
        return f"{count} file{'s' if count != 1 else ''}, +{changed.lines_added} −{changed.lines_removed}"
    if result.explore is not None:
        count = len(result.explore.affected_files)
        return f"{count} affected file{'s' if count != 1 else ''}, complexity {result.explore.complexity}"
    if result.plan is not None:
        count = len(result.plan.steps)
        return f"{count} step{'s' if count != 1 else ''}, risk {result.plan.risk}"
    if result.document is not None:
        count = len(result.document.docs_touched)
        return f"{count} document{'s' if count != 1 else ''} touched"
    return ""
