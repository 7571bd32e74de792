"""Typed phase results as Jira wiki markup: numbered plan steps, files in monospace, test counts and failures.

Every value came from an agent, so every value is escaped (workflows/wiki.py); lists are bounded so a gate comment
stays far below Jira's comment limit whatever the agent sent.
"""

from __future__ import annotations

from workflows.results import Changes, Docs, Findings, Fix, PhaseResult, Plan, SuiteRun, figures
from workflows.wiki import inline, monospace, verbatim

MAX_ITEMS = 40  # per list, in a comment (the API and the dashboard show all)
LINE = 500  # characters per rendered item


def result_markup(result: PhaseResult) -> list[str]:
    """The lines of markup that show one typed result."""
    if result.explore is not None:
        return _findings(result.explore)
    if result.plan is not None:
        return _plan(result.plan)
    if result.code is not None:
        return _changes(result.code)
    if result.test is not None:
        return _suite(result.test)
    if result.fix is not None:
        return _fix(result.fix)
    if result.document is not None:
        return _docs(result.document)
    return []


def _bullets(title: str, items: list[str], mark: str = "*") -> list[str]:
    if not items:
        return []
    lines = [f"*{title}:*", *(f"{mark} {inline(item, LINE)}" for item in items[:MAX_ITEMS])]
    if len(items) > MAX_ITEMS:
        lines.append(f"{mark} _… and {len(items) - MAX_ITEMS} more_")
    return lines


def _files(names: list[str]) -> str:
    shown = ", ".join(monospace(name) for name in names[:MAX_ITEMS])
    return shown + (f" _… and {len(names) - MAX_ITEMS} more_" if len(names) > MAX_ITEMS else "")


def _findings(found: Findings) -> list[str]:
    lines = _bullets("Requirements", found.requirements, "#")
    affected = _files(found.affected_files) or "none found"
    lines.append(f"*Affected files* (complexity *{inline(found.complexity, 20)}*): {affected}")
    if found.dependencies:
        lines.append(f"*Dependencies:* {_files(found.dependencies)}")
    return lines + _bullets("Risks", found.risks) + _bullets("Open questions", found.open_questions)


def _plan(plan: Plan) -> list[str]:
    estimate = f" · *Estimate:* {inline(plan.estimate, 200)}" if plan.estimate else ""
    lines = [f"*Risk:* {inline(plan.risk, 20)}{estimate}"]
    for step in plan.steps[: MAX_ITEMS * 5]:
        lines.append(f"# {inline(step.what, LINE * 2)}")
        if step.where:
            lines.append(f"#* where: {_files(step.where)}")
        if step.verify:
            lines.append(f"#* verify: {inline(step.verify, LINE)}")
    if len(plan.steps) > MAX_ITEMS * 5:
        lines.append(f"_… and {len(plan.steps) - MAX_ITEMS * 5} more steps_")
    if plan.files:
        lines.append(f"*Files to touch:* {_files(plan.files)}")
    return lines


def _changes(changed: Changes) -> list[str]:
    lines = [f"*Changes:* {figures(PhaseResult(code=changed))}: {_files(changed.files_changed) or 'no files'}"]
    return lines + _bullets("Commits", changed.commits)


def _suite(run: SuiteRun) -> list[str]:
    lines = [f"*Tests:* {figures(PhaseResult(test=run))}"]
    for failure in run.failures[:MAX_ITEMS]:
        lines.append(f"* ❌ {monospace(failure.name, LINE)}: {inline(failure.error, LINE)}")
    if len(run.failures) > MAX_ITEMS:
        lines.append(f"* _… and {len(run.failures) - MAX_ITEMS} more failing tests_")
    return lines


def _fix(fix: Fix) -> list[str]:
    lines = _bullets("What changed", fix.changed)
    if fix.why:
        lines.append(f"*Why:* {inline(fix.why, LINE * 2)}")
    lines.append(f"*Changes:* {figures(PhaseResult(fix=fix))}: {_files(fix.files_changed) or 'no files'}")
    return lines + _bullets("Commits", fix.commits)


def _docs(docs: Docs) -> list[str]:
    lines = [f"*Documents touched:* {_files(docs.docs_touched) or 'none'}"]
    if docs.changelog:
        lines += ["*Changelog entry:*", verbatim(docs.changelog, 2000)]
    return lines
