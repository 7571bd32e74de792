"""The approval console in a real browser (issue 14): log in, see DEMO-1 under Needs me, read the plan, approve
with notes, watch the next phase's log lines arrive live, see the gate answered on the sandbox issue, reorder the
queue, log out. Screenshots of each step are saved (see the `screenshots` fixture)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.sandbox.people import SandboxPerson
from app.store.db import make_engine, make_session_factory
from app.store.models import AgentJob, ProjectQueue
from tests.e2e.harness import ORCHESTRATOR, Stack, wait
from tests.jobqueue.conftest import add_job, job_input

pytestmark = pytest.mark.e2e
TIMEOUT = 150


def personal_token(stack: Stack) -> str:
    """`orchestrator users add` for the sandbox's reviewer; the token is the second line it prints."""
    added = subprocess.run(
        [ORCHESTRATOR, "users", "add", "--account-id", "sandbox-reviewer", "--name", "reviewer"],
        env=stack.env,
        cwd=stack.dir,
        capture_output=True,
        text=True,
        check=True,
    )
    return added.stdout.splitlines()[1].strip()


def paused_queue_with_three_jobs(stack: Stack) -> None:
    """Three queued jobs in a paused project (so no agent takes them while the browser reorders them)."""
    engine = make_engine(stack.env["DATABASE_URL"])
    factory = make_session_factory(engine)
    session: Session
    with factory.begin() as session:
        session.add(ProjectQueue(project_key="QUE", paused=True, paused_by="browser-test"))
    for job_id in ("que-a", "que-b", "que-c"):
        add_job(factory, job_input(job_id, "QUE"))
    engine.dispose()


def test_the_console_scenario_in_chromium(console_stack: Stack, browser: Any, screenshots: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    stack, driver = console_stack, browser
    web = f"http://127.0.0.1:{stack.env['WEB_PORT']}"
    # A form's submit loads a new page: an element read mid-navigation is stale, so look again.
    waiting = WebDriverWait(driver, TIMEOUT, 0.25, ignored_exceptions=(StaleElementReferenceException,))

    def until(condition: Callable[[Any], Any]) -> None:
        try:
            waiting.until(condition)
        except TimeoutException:
            shot("failed")
            raise AssertionError(what_it_saw(stack, driver)) from None

    def shot(name: str) -> None:
        driver.save_screenshot(str(screenshots / f"{name}.png"))

    def text() -> str:
        return str(driver.find_element(By.TAG_NAME, "body").text)

    wait(stack, lambda: bool(stack.rest("myself")), "the sandbox")
    token = personal_token(stack)
    paused_queue_with_three_jobs(stack)
    SandboxPerson(stack.jira_url, "reporter").label("DEMO-1", "ai-orchestrate")

    # Log in (any page leads to the login form first).
    wait(stack, lambda: _up(web), "the web app")
    driver.get(web + "/needs-me")
    until(lambda d: "Your personal token" in text())
    shot("1-login")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(lambda d: d.title.startswith("Needs me"))

    # DEMO-1 appears under Needs me once its plan waits at the PLAN gate.
    def demo_waits(d: Any) -> bool:
        d.refresh()
        return "DEMO-1" in text()

    until(demo_waits)
    shot("2-needs-me")
    driver.find_element(By.LINK_TEXT, "DEMO-1").click()
    until(lambda d: "Waiting for approval after PLAN" in text())
    plan = driver.find_element(By.CSS_SELECTOR, "#gate ol.plan").text
    assert "greet" in plan.lower(), plan  # the demo agent's typed plan, step by step
    shot("3-run-plan")

    # Approve with notes: the run moves on to CODE, whose log lines arrive in the live tail.
    driver.find_element(By.CSS_SELECTOR, "#gate textarea[name=text]").send_keys("keep it small")
    driver.find_element(By.CSS_SELECTOR, "#gate button[name=approve]").click()
    until(lambda d: "/approve:" in text())
    answer = driver.find_element(By.CSS_SELECTOR, "p.flash")
    assert "ok" in answer.get_attribute("class").split(), f"the approval was refused: {answer.text}"
    until(lambda d: "CODE" in d.find_element(By.ID, "log").text and "[" in d.find_element(By.ID, "log").text)
    shot("4-live-log")

    # The run answered on the issue, naming the person and the console.
    def answered(d: Any) -> bool:
        d.get(stack.jira_url + "/")
        return "(console)" in text() and "@reviewer" in text()

    until(answered)
    shot("5-sandbox-answer")

    # Reorder the queue: the last job to the front.
    driver.get(web + "/queue")
    until(lambda d: "QUE · PAUSED" in text())
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue-QUE tr.queued")
    assert [r.find_element(By.TAG_NAME, "code").text for r in rows] == ["que-a", "que-b", "que-c"]
    last = rows[-1]
    last.find_element(By.NAME, "position").clear()
    last.find_element(By.NAME, "position").send_keys("1")
    last.find_element(By.XPATH, ".//button[text()='Move']").click()
    until(lambda d: "que-c is now #1" in text())
    rows = driver.find_elements(By.CSS_SELECTOR, "#queue-QUE tr.queued")
    assert [r.find_element(By.TAG_NAME, "code").text for r in rows] == ["que-c", "que-a", "que-b"]
    shot("6-queue")

    driver.find_element(By.XPATH, "//button[text()='Log out']").click()
    until(lambda d: "Your personal token" in text())
    driver.get(web + "/runs")
    assert "Your personal token" in text()  # the session is gone


def what_it_saw(stack: Stack, driver: Any) -> str:
    """A timed-out step's evidence: the page the browser shows and its console (a script's errors), the jobs in the
    database, the processes' logs."""
    engine = make_engine(stack.env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        jobs = [f"{j.id} {j.status} agent={j.agent_id}" for j in session.query(AgentJob).order_by(AgentJob.created_at)]
    engine.dispose()
    page = driver.find_element("tag name", "body").text
    console = "\n".join(f"{entry['level']} {entry['message']}" for entry in driver.get_log("browser"))
    return (
        f"at {driver.current_url}:\n{page[:4000]}\n--- the browser's console\n{console}\n--- jobs\n"
        + "\n".join(jobs)
        + f"\n{stack.logs()}"
    )


def _up(web: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(web + "/login", timeout=2) as answer:  # noqa: S310 (loopback)
        return bool(answer.status == 200)
