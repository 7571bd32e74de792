"""Ticket text is data: hostile summaries, descriptions and feedback go through the demo agent's steps and the gate
comment without ever running, and every echo of them is literal (issue 13, finding 2).

Each example runs the real demo steps (`python -m app.agent_server.demo`) in a fresh demo repository, as the
agent runs them, and plants canaries: any text that manages to execute creates a file the test looks for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.agent_client.results import read_result
from app.agent_server.demo_repo import ensure_repository
from tests.chaos.report import FIGURES, scale
from workflows.report import gate_comment
from workflows.state import OrchestrationState, PhaseRecord

KEY = "DEMO-9"
# Fragments that would run, break out of a block, or mention someone, if the text were ever code, shell or markup.
HOSTILE = [
    'x""";open("CANARY-py","w")#',
    "'''\nimport os; os.system('touch CANARY-sh')\n'''",
    "$(touch CANARY-subshell)",
    "`touch CANARY-backtick`",
    "; touch CANARY-semicolon; #",
    "{noformat}\n{code}h1. injected{code}",
    "[~accountid:712020:attacker] [link|javascript:alert(1)]",
    "--upload-pack=touch CANARY-git",
    "../../etc/passwd\n\r\x00",
    "{{monospace}} *bold* |table|cell|",
]
IDENTITY = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x"}
texts = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=40), min_size=1, max_size=4).map(" ".join)


def run_step(step: str, job: dict[str, object], work: Path) -> dict[str, object]:
    """One demo step in the worktree, as the agent runs it; its result file."""
    job_file = work.parent / "job.json"
    job_file.write_text(json.dumps(job))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work.parent),
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@x",
    }
    env |= {"GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x", "PYTHONPATH": str(Path.cwd())}
    done = subprocess.run(
        [sys.executable, "-m", "app.agent_server.demo", step, str(job_file)],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
        text=True,
    )
    assert done.returncode == (1 if step == "test" else 0), done.stderr  # TEST fails: CODE is off by one on purpose
    result: dict[str, object] = json.loads(Path(str(job["result_file"])).read_text())
    return result


def test_hostile_ticket_text_never_runs_and_is_echoed_literally(tmp_path_factory: pytest.TempPathFactory) -> None:
    examples = 0

    # 60 examples under `make chaos` (issue 13's chaos suite), 6 in `make test`.
    @settings(max_examples=scale(60, 6), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(summary=texts, description=texts, feedback=texts)
    def drive(summary: str, description: str, feedback: str) -> None:
        nonlocal examples
        examples += 1
        base = tmp_path_factory.mktemp("hostile")
        work = base / "repo"
        ensure_repository(work, {**os.environ, **IDENTITY})
        issue = {"summary": summary, "description": description, "labels": ["ai-orchestrate"]}
        job = {
            "issue_key": KEY,
            "prompt": f"Plan the implementation. Issue {KEY}: {summary}.",
            "context": {"issue": issue, "feedback": feedback},
            "result_file": str(base / "result.json"),
        }
        results = {step: run_step(step, job, work) for step in ("explore", "plan", "code", "test", "document")}

        canaries = [p for p in base.rglob("CANARY*")] + [p for p in Path.cwd().glob("CANARY*")]
        assert canaries == [], f"ticket text ran: {canaries}"
        plan_text = (work / "docs" / "plans" / f"{KEY}.md").read_text()
        assert " ".join(summary.split())[:200] in plan_text  # the summary, as written, one line
        if " ".join(feedback.split()):
            assert "Address the review feedback: " + " ".join(feedback.split())[:300] in plan_text
        module = (work / "issue_demo_9.py").read_text()  # CODE's source names the issue by key, never by its text
        assert module.startswith(f'"""greet_issue for {KEY} (the issue is described in docs/plans/{KEY}.md)."""\n')

        typed = {step.upper(): read_result(step.upper(), json.dumps(r["result"])) for step, r in results.items()}
        assert all(result is not None for result in typed.values())
        state = OrchestrationState(KEY, "DEMO", "wf", "run", None, "2026-12-01T00:00:00+00:00")
        state.phases = [PhaseRecord("PLAN")]
        state.results["PLAN"] = typed["PLAN"]  # type: ignore[assignment]
        state.outputs["PLAN"] = str(results["plan"]["outputs"]["plan"])  # type: ignore[index]
        gate = gate_comment(state, "PLAN", "CODE")
        # Nothing from the ticket opens a block, a macro, a table or a mention in the comment Jira renders.
        assert "[~accountid:712020" not in gate and "[link|" not in gate
        assert not re.search(r"(?<!\\)\{(?:code|noformat)", gate), gate

    drive()
    scenario = "Hostile ticket text through the real demo steps and the gate comment (hypothesis)"
    FIGURES.add(scenario, "Summaries, descriptions and feedback tried", examples)
    FIGURES.add(scenario, "Canary files created / unescaped blocks or mentions in the comment", "0 / 0", "0 / 0")
