"""The whole product as `make run` starts it: sandbox Jira, web (gunicorn), worker and demo agent as real processes.

Label → EXPLORE → /approve → PLAN → /reject → PLAN v2 → /approve → CODE → TEST fails → FIX → TEST passes →
DOCUMENT → PR link → Done; the worker is SIGKILLed in the middle of a phase and restarted, and the issue still ends
with exactly one status comment, one comment per gate, one summary, one remote link and each status transition once.

On SQLite (the embedded default) in `make test`; `make chaos` runs it on PostgreSQL as well (each run of it waits
out the killed workers' activity timeouts: a minute or more of the suite's ten).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from sqlalchemy import select

from app.sandbox.people import SandboxPerson
from app.store.db import make_engine, make_session_factory
from app.store.models import AgentJob
from tests.chaos.report import FULL
from tests.e2e.harness import ORCHESTRATOR, Stack, wait
from tests.webhook_listener import Listener
from tests.wiki_text import unescaped

pytestmark = pytest.mark.e2e
DATABASES = ["sqlite", *([pytest.param("postgresql", marks=pytest.mark.postgres)] if FULL else [])]


def bot_comments(stack: Stack) -> list[str]:
    comments = stack.rest("issue/DEMO-1/comment?maxResults=100")["comments"]
    return [c["body"] for c in comments if c["author"]["accountId"] == "sandbox-bot"]


@pytest.mark.parametrize("empty_database_url", DATABASES, indirect=True)
def test_label_to_done_with_a_worker_crash_in_between(stack: Stack, listener: Listener) -> None:
    reviewer = SandboxPerson(stack.jira_url, "reviewer")
    wait(stack, lambda: bool(stack.rest("myself")), "the sandbox")
    reviewer.label("DEMO-1", "ai-orchestrate")
    gate = "Waiting for approval to proceed"
    wait(stack, lambda: sum(gate in c for c in bot_comments(stack)) == 1, "the EXPLORE gate")
    # Killed as soon as the gate is on the issue: its chat notification is sent before or after, never twice.
    stack.kill("worker")
    stack.start("worker", "worker")
    explore_gate = next(c for c in bot_comments(stack) if gate in c)
    assert "Issue words found:" in explore_gate and "greeting.py" in explore_gate  # the findings, not a count
    assert "*Affected files* (complexity" in explore_gate and "{{greeting.py}}" in explore_gate  # typed, too
    reviewer.comment("DEMO-1", "/approve start with the greeting module")
    wait(stack, lambda: sum(gate in c for c in bot_comments(stack)) == 2, "the PLAN gate")
    # The PLAN gate shows every step of the plan the real demo agent committed to the branch.
    plan_gate = unescaped([c for c in bot_comments(stack) if gate in c][1])
    steps = plan_steps(git_show(stack, "jira/DEMO-1:docs/plans/DEMO-1.md"))
    assert len(steps) == 4 and all(f"# {step}" in plan_gate for step in steps), plan_gate

    reviewer.comment("DEMO-1", "/reject add a step for docs")
    wait(stack, lambda: sum(gate in c for c in bot_comments(stack)) == 3, "the PLAN v2 gate")
    v2_gate = unescaped([c for c in bot_comments(stack) if gate in c][2])
    plan = git_show(stack, "jira/DEMO-1:docs/plans/DEMO-1.md")
    steps = plan_steps(plan)
    assert len(steps) == 5 and all(f"# {step}" in v2_gate for step in steps), v2_gate
    assert "*PLAN v2*, after feedback from [~accountid:sandbox-reviewer]: add a step for docs" in v2_gate
    assert "{code:diff}" in v2_gate and "+4. Address the review feedback: add a step for docs" in v2_gate

    reviewer.comment("DEMO-1", "/approve")
    wait(stack, lambda: "|CODE|⏳|" in bot_comments(stack)[0], "CODE to start")
    stack.kill("worker")  # mid-phase: Temporal hands the work to the restarted worker
    stack.start("worker", "worker")
    # Killed again right after the pull request's POST: the forge activity's retry (if the kill beat its answer)
    # finds the pull request instead of opening a second one.
    wait(stack, lambda: bool(stack.forge_posts()), "the pull request's POST", 180)
    stack.kill("worker")
    stack.start("worker", "worker")

    wait(stack, lambda: stack.rest("issue/DEMO-1?fields=status")["fields"]["status"]["name"] == "Done", "Done", 180)
    # The outbox delivers in order but the status comment may trail the transition by one write.
    wait(stack, lambda: "*Status:* Completed" in bot_comments(stack)[0], "the final status comment")
    comments = bot_comments(stack)
    status = [c for c in comments if c.startswith("h3. 🤖 AI orchestration")]
    assert len(status) == 1, comments
    assert "Completed" in status[0]
    assert sum(gate in c for c in comments) == 3
    [summary] = [c for c in comments if c.startswith("🎉")]
    # The real test counts and diff stat: the demo repository's two tests, CODE's two files and FIX's one line.
    assert "*Tests 2 passed / 0 failed · 2 files changed, +" in summary, summary
    labels = stack.rest("issue/DEMO-1?fields=labels")["fields"]["labels"]
    assert "ai-done" in labels and not {"ai-running", "ai-needs-approval", "ai-blocked"} & set(labels), labels
    assert "|FIX|✅|1|" in status[0], status[0]  # the demo's CODE breaks the test; FIX repairs it
    history = stack.rest("issue/DEMO-1?expand=changelog&fields=status")["changelog"]["histories"]
    moves = [(i["fromString"], i["toString"]) for h in history for i in h["items"] if i["field"] == "status"]
    assert moves == [("To Do", "In Progress"), ("In Progress", "Done")], moves  # each transition once, crash or not
    # The board label moved running → needs-approval → running … → done, exactly one at a time.
    board = {"ai-running", "ai-needs-approval", "ai-blocked", "ai-done"}
    shown = [board & set(i["toString"].split()) for h in history for i in h["items"] if i["field"] == "labels"]
    assert all(len(labels) <= 1 for labels in shown), shown
    moved = [label for labels in shown for label in labels]
    moved = [label for n, label in enumerate(moved) if n == 0 or moved[n - 1] != label]
    assert moved == ["ai-running", "ai-needs-approval", "ai-running", "ai-needs-approval", "ai-running",
                     "ai-needs-approval", "ai-running", "ai-done"], moved  # fmt: skip
    # The "Pull request" link is the sandbox forge's page of the one pull request the worker opened for the branch.
    links = stack.rest("issue/DEMO-1/remotelink")
    pull_url = f"{stack.jira_url}/forge/demo/demo-repo/pull/1"
    assert [link["object"]["url"] for link in links] == [pull_url]
    assert pull_url in summary
    assert [(p["path"], p["head"]) for p in stack.forge_posts()] == [
        ("/forge/api/repos/demo/demo-repo/pulls", "jira/DEMO-1")
    ]
    pull_page = stack.page(pull_url)
    assert "DEMO-1: " in pull_page and "<h3>Approved plan</h3>" in pull_page and "Files changed" in pull_page
    assert "+++ b/issue_demo_1.py" in pull_page and "Greet" in pull_page, pull_page
    # Each gate (EXPLORE, PLAN, PLAN v2) and the completion reached the chat webhook under one Idempotency-Key each,
    # crashes or not: a worker killed between a send and its record sends it again under the same key, which the
    # receiver shows once (the chaos suite counts those resends).
    wait(stack, lambda: any(": completed." in t for t in listener.events()), "the completion's notification")
    texts = listener.distinct_events()
    assert [t.split(": ", 1)[1].split(" ", 1)[0] for t in texts] == ["EXPLORE", "PLAN", "PLAN", "completed."], texts
    assert len(listener.requests) <= 4 + 3  # at most one resend per kill
    # A typo and a command after the run ended are each answered once, through the real worker. (The run closes
    # once its last notification is in: wait for that, or /approve would still find the run. An activity the last
    # kill cut short is retried only when its timeout (a Jira write's 30 s heartbeat) tells Temporal: hence 240 s.)
    wait(stack, lambda: "[COMPLETED]" in orchestrator(stack, "status", "DEMO-1"), "the run to close", 240)
    reviewer.comment("DEMO-1", "/aprove")
    reviewer.comment("DEMO-1", "/approve")
    answers = ("is not a command I know", "There is no run on this issue for {{/approve}}")
    wait(stack, lambda: all(sum(a in c for c in bot_comments(stack)) == 1 for a in answers), "the two answers")
    # CODE was handed the approved plan verbatim (in the job's context, as the agent received it).
    engine = make_engine(stack.env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        code_job = session.scalars(select(AgentJob).where(AgentJob.phase == "CODE")).first()
        assert code_job is not None
        context = json.loads(code_job.context)
        assert context["previous_outputs"]["PLAN"] == plan
        assert [step["what"] for step in context["previous_results"]["PLAN"]["plan"]["steps"]] == steps
    engine.dispose()


def git_show(stack: Stack, what: str) -> str:
    """A file of the demo remote (the bare repository the agent pushes to)."""
    remote = stack.dir / "var" / "agent" / "demo-remote.git"
    return subprocess.run(["git", "show", what], cwd=remote, capture_output=True, text=True, check=True).stdout


def plan_steps(plan: str) -> list[str]:
    """The numbered steps of a plan file the demo agent wrote."""
    return [line.split(". ", 1)[1] for line in plan.splitlines() if re.match(r"\d+\. ", line)]


def orchestrator(stack: Stack, *args: str) -> str:
    """The CLI's output, run with the stack's settings."""
    done = subprocess.run([ORCHESTRATOR, *args], env=stack.env, cwd=stack.dir, capture_output=True, text=True)
    return done.stdout
