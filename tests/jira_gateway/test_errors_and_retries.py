"""Error classes and the one retry layer: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests
import responses

from app.config import JiraSettings
from app.jira_gateway import AuthenticationError, JiraGateway, JiraNotFound, JiraUnavailable, ValidationError
from tests.jira_gateway.conftest import API, BOT, TOKEN, FakeClock, issue_body

ISSUE = f"{API}/issue/PAY-1"
ERR = {"errorMessages": ["nope"], "errors": {"labels": "bad label"}}


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (403, AuthenticationError), (400, ValidationError), (404, JiraNotFound)],
)
def test_permanent_errors_are_raised_at_once(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock, status: int, error: type[Exception]
) -> None:
    rsps.get(ISSUE, status=status, json=ERR)
    with pytest.raises(error) as caught:
        gateway.read_issue("PAY-1")
    assert len(rsps.calls) == 1 and clock.sleeps == []  # never retried
    assert f"answered {status}" in str(caught.value) and "nope; labels: bad label" in str(caught.value)
    assert caught.value.__cause__ is None and TOKEN not in repr(caught.value)


def test_429_waits_at_least_retry_after(gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock) -> None:
    rsps.get(ISSUE, status=429, headers={"Retry-After": "7"}, json=ERR)
    rsps.get(ISSUE, json=issue_body())
    assert gateway.read_issue("PAY-1").key == "PAY-1"
    assert len(clock.sleeps) == 1 and 7 <= clock.sleeps[0] <= 7.7


def test_retry_after_as_an_http_date_is_honoured(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    rsps.get(ISSUE, status=503, headers={"Retry-After": when}, json=ERR)
    rsps.get(ISSUE, json=issue_body())
    gateway.read_issue("PAY-1")
    assert 17 <= clock.sleeps[0] <= 22


@pytest.mark.parametrize("status", [502, 503, 504, 500, 409])
def test_transient_statuses_are_retried_with_backoff(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock, status: int
) -> None:
    rsps.get(ISSUE, status=status, json=ERR)
    rsps.get(ISSUE, status=status, json=ERR)
    rsps.get(ISSUE, json=issue_body())
    gateway.read_issue("PAY-1")
    assert len(clock.sleeps) == 2
    assert 1.4 <= clock.sleeps[0] <= 2.6 and 2.8 <= clock.sleeps[1] <= 5.2  # 2 s, then doubled, ±30 %


def test_connection_errors_and_timeouts_are_retried(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    rsps.get(ISSUE, body=requests.ConnectionError("refused"))
    rsps.get(ISSUE, body=requests.ReadTimeout("slow"))
    rsps.get(ISSUE, json=issue_body())
    assert gateway.read_issue("PAY-1").key == "PAY-1"
    assert len(clock.sleeps) == 2


def test_a_503_storm_stops_within_the_budget(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    rsps.get(ISSUE, status=503, json=ERR)
    start = clock.now
    with pytest.raises(JiraUnavailable) as caught:
        gateway.read_issue("PAY-1")
    assert clock.now - start <= 60  # JIRA_RETRY_BUDGET in the fixture
    assert 4 <= len(rsps.calls) <= 8
    message = str(caught.value)
    assert "still unavailable after" in message and "retry budget 60s" in message and "answered 503" in message


def test_a_retry_after_beyond_the_budget_gives_up_at_once(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    rsps.get(ISSUE, status=429, headers={"Retry-After": "3600"}, json=ERR)
    with pytest.raises(JiraUnavailable, match="1 attempt"):
        gateway.read_issue("PAY-1")
    assert clock.sleeps == []


def test_a_retried_write_rechecks_jira_first(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    # The POST is applied but its answer is a 503: the retry finds the stamped comment and posts nothing more.
    rsps.get(f"{ISSUE}/comment", json={"startAt": 0, "total": 0, "comments": []})
    rsps.post(f"{ISSUE}/comment", status=503, json=ERR)
    stamped = {"id": "9", "author": {"accountId": BOT}, "body": "b", "created": ""}
    stamped["properties"] = [{"key": "orchestrator.event", "value": {"key": "e"}}]
    rsps.get(f"{ISSUE}/comment", json={"startAt": 0, "total": 1, "comments": [stamped]})
    assert gateway.post_comment_once("PAY-1", "e", "b") == "9"
    assert sum(c.request.method == "POST" for c in rsps.calls) == 1


def test_every_call_has_a_timeout_and_no_library_retries(gateway: JiraGateway, jira_settings: JiraSettings) -> None:
    session = gateway.http.client._session
    assert session.timeout == (7.0, 7.0)
    assert session.max_retries == 0
