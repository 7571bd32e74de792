"""The approval console (issue 14 "Pages"): Needs me, Runs, Run (gate content, actions), Queue and Agents.

Real Temporal dev server and worker (fake Jira and scripted agent, as the API tests), Flask's test client logged
in as named users. A console action is the same update and approver check as a Jira comment, and the run answers
on the issue naming the person and the console.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from temporalio.testing import WorkflowEnvironment

from activities.agent_types import AgentCommand, AgentOutcome
from app.store.models import ProjectQueue
from app.web.factory import create_app
from tests.app.conftest import AUTH, TOKEN, call, wait_for_gate
from tests.app.web_login import add_user, csrf_in, csrf_of, log_in
from tests.conftest import make_settings
from tests.jobqueue.conftest import add_job, job_input
from tests.workflows.conftest import running_worker
from tests.workflows.fakes import APPROVER, OUTSIDER, FakeAgent, FakeJira, ok

PAGES = ["/", "/runs", "/needs-me", "/queue", "/agents", "/orchestrations/DEMO-1"]
ACTIONS = ["/orchestrations/DEMO-1/approve", "/queue/DEMO/pause", "/queue/jobs/j-1/remove", "/queue/jobs/j-1/move"]


@pytest.fixture
def offline(tmp_path: Path, sqlite_url: str) -> Iterator[Flask]:
    app = create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, FEATURE_TEMPORAL_ENABLED="false"))
    yield app
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("page", PAGES)
def test_every_console_page_redirects_to_login_without_a_session(offline: Flask, page: str) -> None:
    response = offline.test_client().get(page)
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next={page}"


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_is_refused_without_a_session_or_without_the_csrf_token(offline: Flask, action: str) -> None:
    assert offline.test_client().post(action, data={"text": "x"}).status_code == 302  # to the login page
    client = offline.test_client()
    log_in(client, add_user(offline, "rita", APPROVER))
    assert client.post(action, data={"text": "x", "position": "1"}).status_code == 403  # a forged form


def plan_v2(request: AgentCommand) -> AgentOutcome:
    """The plan after a rejection: one step more."""
    first = ok(request)
    assert first.result is not None and first.result.plan is not None
    steps = [*first.result.plan.steps, dataclasses.replace(first.result.plan.steps[0], what="Say goodbye too.")]
    plan = dataclasses.replace(first.result.plan, steps=steps)
    return dataclasses.replace(first, result=dataclasses.replace(first.result, plan=plan))


@dataclasses.dataclass
class Console:
    app: Flask
    jira: FakeJira
    agent: FakeAgent

    def client_of(self, name: str, account_id: str) -> FlaskClient:
        client = self.app.test_client()
        log_in(client, add_user(self.app, name, account_id))
        return client


@pytest.fixture
async def console(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[Console]:
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE=task_queue,
        ORCHESTRATOR_API_TOKEN=TOKEN,
        ORCHESTRATOR_GATES="PLAN",
    )
    app = create_app(settings)
    jira, agent = FakeJira(), FakeAgent()
    agent.script("PLAN", ok, plan_v2)
    app.extensions["may_steer"] = jira.may_steer  # the worker's approver rule, so Needs me agrees with the run
    async with running_worker(temporal_env.client, task_queue, sqlite_url, jira, agent):
        yield Console(app, jira, agent)
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


async def post(client: FlaskClient, path: str, **form: str) -> str:
    """Submit a console form as a browser does (CSRF token from the page), follow the redirect, return the page."""
    page = path.rsplit("/", 1)[0] if path.startswith("/orchestrations/") else "/queue"
    # Read the token from this page: a second, synchronous GET here would block the loop the worker runs on while
    # the page reads the run, and wait out the page's Temporal timeout (10 s a command).
    csrf = await call(client, "get", page)
    token = csrf_in(csrf.get_data(as_text=True), page) if csrf.status_code == 200 else ""
    response = await call(client, "post", path, data={"csrf_token": token, **form}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return str(response.get_data(as_text=True))


async def test_needs_me_lists_the_gate_for_an_approver_only_and_the_run_page_shows_the_plan(console: Console) -> None:
    api = console.app.test_client()
    assert (await call(api, "post", "/api/orchestrations", json={"issue_key": "CON-1"}, headers=AUTH)).status_code
    await wait_for_gate(api, "CON-1")
    rita, otto = console.client_of("rita", APPROVER), console.client_of("otto", OUTSIDER)

    needs_rita = (await call(rita, "get", "/needs-me")).get_data(as_text=True)
    assert "CON-1" in needs_rita and "PLAN" in needs_rita
    assert "CON-1" not in (await call(otto, "get", "/needs-me")).get_data(as_text=True)

    run = (await call(rita, "get", "/orchestrations/CON-1")).get_data(as_text=True)
    assert "Waiting for approval after PLAN" in run
    assert "Add greet_issue(name) in issue_demo_1.py" in run  # the typed plan's steps, rendered as HTML
    assert 'name="approve"' in run and 'name="reject"' in run
    runs = (await call(rita, "get", "/runs?project=con&status=running&phase=PLAN")).get_data(as_text=True)
    assert "CON-1" in runs and "/browse/CON-1" in runs and "/workflows/orchestration-CON-1" in runs
    assert "CON-1" not in (await call(rita, "get", "/runs?project=NOPE")).get_data(as_text=True)


async def test_an_outsiders_console_approve_is_refused_as_from_jira_and_an_approvers_is_answered_on_the_issue(
    console: Console,
) -> None:
    api = console.app.test_client()
    await call(api, "post", "/api/orchestrations", json={"issue_key": "CON-2"}, headers=AUTH)
    await wait_for_gate(api, "CON-2")
    otto = console.client_of("otto", OUTSIDER)
    refused = await post(otto, "/orchestrations/CON-2/approve", text="ship it")
    assert "you may not steer this run" in refused and OUTSIDER in refused
    assert (await wait_for_gate(api, "CON-2"))["pending_gate"] == "PLAN"

    rita = console.client_of("rita", APPROVER)
    rejected = await post(rita, "/orchestrations/CON-2/reject", text="also say goodbye")
    assert "/reject:" in rejected
    state = await wait_for_gate(api, "CON-2")
    while len(state["versions"].get("PLAN", [])) < 2:
        state = await wait_for_gate(api, "CON-2")
    page = (await call(rita, "get", "/orchestrations/CON-2")).get_data(as_text=True)
    assert "v1 → v2 after feedback from" in page and "also say goodbye" in page
    assert '<span class="add">+5. Say goodbye too.' in page  # the diff of the plan after the reject

    approved = await post(rita, "/orchestrations/CON-2/approve", text="keep it short")
    assert "/approve:" in approved
    state = (await call(api, "get", "/api/orchestrations/CON-2", headers=AUTH)).json
    plan = next(p for p in state["phases"] if p["phase"] == "PLAN")
    assert plan["approved_by"] == APPROVER and plan["approved_via"] == "console"
    answers = [text for text in console.jira.texts() if "(console)" in text]
    assert any(f"{{{{/approve}}}} from [~accountid:{APPROVER}] (console)" in text for text in answers), answers
    assert any(f"[~accountid:{OUTSIDER}]" in text and "may not steer" in text for text in answers), answers


def queued_ids(page: str, project: str) -> list[str]:
    """The queued job ids of a project's section of the Queue page, in the order shown."""
    section = page.split(f'id="queue-{project}"', 1)[1].split("</section>", 1)[0]
    return [row.split("<code>", 1)[1].split("</code>", 1)[0] for row in section.split('<tr class="queued">')[1:]]


def test_the_queue_page_shows_run_order_and_moves_pauses_and_resumes_with_the_clis_rules(offline: Flask) -> None:
    factory = offline.extensions["session_factory"]
    for job_id in ("q-1", "q-2", "q-3"):
        add_job(factory, job_input(job_id, "QUE"))
    client = offline.test_client()
    log_in(client, add_user(offline, "rita", APPROVER))
    assert queued_ids(client.get("/queue").get_data(as_text=True), "QUE") == ["q-1", "q-2", "q-3"]

    csrf = csrf_of(client, "/queue")
    moved = client.post("/queue/jobs/q-3/move", data={"csrf_token": csrf, "position": "1"}, follow_redirects=True)
    page = moved.get_data(as_text=True)
    assert "q-3 is now #1 in its queue" in page and queued_ids(page, "QUE") == ["q-3", "q-1", "q-2"]
    refused = client.post("/queue/jobs/nope/move", data={"csrf_token": csrf, "position": "1"}, follow_redirects=True)
    assert "there is no job" in refused.get_data(as_text=True)

    paused = client.post("/queue/QUE/pause", data={"csrf_token": csrf}, follow_redirects=True).get_data(as_text=True)
    assert "queue QUE paused" in paused and "QUE · PAUSED" in paused
    with factory() as session:
        row = session.get(ProjectQueue, "QUE")
        assert row is not None and row.paused and row.paused_by == "rita"


async def test_the_agents_page_shows_health_current_job_and_schedules(console: Console) -> None:
    rita = console.client_of("rita", APPROVER)
    page = (await call(rita, "get", "/agents")).get_data(as_text=True)
    assert "<code>127.0.0.1:1</code>" in page and "online" in page
    assert "none yet" in page  # no schedules made in this test's worker: the page says so rather than guess


def sse_events(body: str) -> list[tuple[str, str]]:
    """(id, data) of each `event: state` in a Server-Sent Events body."""
    found = []
    for chunk in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line and not line.startswith(":"))
        if fields.get("event") == "state":
            found.append((fields["id"], fields["data"]))
    return found


async def read_stream(client: FlaskClient, url: str, **headers: str) -> str:
    """The whole body of a stream that ends by its `timeout`, read in the thread that asked for it (the stream
    keeps the request's context, which lives in that thread)."""
    return await asyncio.to_thread(lambda: client.get(url, headers=headers).get_data(as_text=True))


async def test_run_state_events_resume_from_last_event_id_without_repeats(console: Console) -> None:
    api = console.app.test_client()
    await call(api, "post", "/api/orchestrations", json={"issue_key": "CON-3"}, headers=AUTH)
    await wait_for_gate(api, "CON-3")
    rita = console.client_of("rita", APPROVER)  # a console session reads the stream as the browser does
    url = "/api/orchestrations/CON-3/events?timeout=2"
    [(first_id, data)] = sse_events(await read_stream(rita, url))
    assert '"pending_gate": "PLAN"' in data and '"status": "waiting_for_approval"' in data
    # Reconnecting at the same state: nothing is sent again.
    assert sse_events(await read_stream(rita, url, **{"Last-Event-ID": first_id})) == []
    # After the approval, the reconnect gets the new state, then each later change once (the run moves on fast).
    await post(rita, "/orchestrations/CON-3/approve", text="go")
    later = sse_events(await read_stream(rita, url, **{"Last-Event-ID": first_id}))
    ids = [first_id, *(event_id for event_id, _ in later)]
    assert len(later) >= 1 and all(a != b for a, b in itertools.pairwise(ids))
    assert all('"pending_gate": null' in data for _, data in later)


async def test_pause_resume_retry_and_cancel_buttons_send_the_runs_own_commands(console: Console) -> None:
    api = console.app.test_client()
    await call(api, "post", "/api/orchestrations", json={"issue_key": "CON-4"}, headers=AUTH)
    await wait_for_gate(api, "CON-4")
    rita = console.client_of("rita", APPROVER)
    needs = (await call(rita, "get", "/needs-me")).get_data(as_text=True)
    assert " UTC</td>" in needs  # when the gate times out (ORCHESTRATOR_GATE_TIMEOUT, 7 days by default)
    assert "paused: the run stops before the next phase starts" in await post(rita, "/orchestrations/CON-4/pause")
    assert (await call(api, "get", "/api/orchestrations/CON-4", headers=AUTH)).json["paused"] is True
    assert "/resume: resumed" in await post(rita, "/orchestrations/CON-4/resume")
    # A command the run's state refuses comes back as the run's own words, as on the issue.
    assert "/retry:" in (refused := await post(rita, "/orchestrations/CON-4/retry", text="PLAN"))
    assert 'class="flash bad"' in refused
    assert "/cancel: cancelling" in await post(rita, "/orchestrations/CON-4/cancel", text="not needed")
    state = (await call(api, "get", "/api/orchestrations/CON-4", headers=AUTH)).json
    while state["status"] != "cancelled":
        await asyncio.sleep(0.1)
        state = (await call(api, "get", "/api/orchestrations/CON-4", headers=AUTH)).json
    assert any("{{/cancel}} from [~accountid:acc-reviewer] (console)" in text for text in console.jira.texts())
