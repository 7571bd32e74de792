"""`attach_text` against faked Jira REST: listed before uploading, uploaded as Jira requires, refusals classified."""

from __future__ import annotations

import pytest
import responses

from app.jira_gateway import Attachment, AuthenticationError, JiraGateway, ValidationError
from tests.jira_gateway.conftest import API, BOT, PLAN_NAME, PLAN_TEXT, FakeClock, attachment_json, attachments_body

ISSUE = f"{API}/issue/PAY-1"
UPLOAD = f"{ISSUE}/attachments"


def uploads(rsps: responses.RequestsMock) -> list[responses.Call]:
    return [c for c in rsps.calls if c.request.method == "POST" and c.request.url == UPLOAD]


def test_a_text_is_uploaded_once(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(ISSUE, json=attachments_body())
    rsps.post(UPLOAD, json=[attachment_json()])
    first = gateway.attach_text("PAY-1", PLAN_NAME, PLAN_TEXT)
    assert first == Attachment("10100", PLAN_NAME, len(PLAN_TEXT.encode()), f"{API}/attachment/content/10100", BOT)
    assert rsps.calls[0].request.url == f"{ISSUE}?fields=attachment"

    rsps.replace(responses.GET, ISSUE, json=attachments_body(attachment_json()))
    assert gateway.attach_text("PAY-1", PLAN_NAME, PLAN_TEXT) == first  # found by name and size: not uploaded again
    assert len(uploads(rsps)) == 1


def test_the_upload_is_multipart_with_the_xsrf_header_and_a_timeout(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    rsps.get(ISSUE, json=attachments_body())
    rsps.post(UPLOAD, json=[attachment_json()])
    gateway.attach_text("PAY-1", PLAN_NAME, PLAN_TEXT)
    (call,) = uploads(rsps)
    headers, body = call.request.headers, call.request.body
    assert headers["X-Atlassian-Token"] == "no-check"  # Jira blocks uploads without it
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert isinstance(body, bytes)
    assert f'name="file"; filename="{PLAN_NAME}"'.encode() in body and PLAN_TEXT.encode() in body
    assert b"Content-Type: text/markdown; charset=utf-8" in body
    sent_with = call.request.req_kwargs  # type: ignore[attr-defined]  # responses records the send's kwargs
    assert sent_with["timeout"] == (7.0, 7.0)  # the fixture's JIRA timeout, as on every call


def test_other_text_under_the_same_name_is_uploaded(gateway: JiraGateway, rsps: responses.RequestsMock) -> None:
    rsps.get(ISSUE, json=attachments_body(attachment_json(), attachment_json("10101", "PAY-1-CODE-v1.md", "x" * 500)))
    longer = PLAN_TEXT + "2. Log each retry\n"
    rsps.post(UPLOAD, json=[attachment_json("10102", text=longer)])
    attached = gateway.attach_text("PAY-1", PLAN_NAME, longer)
    assert (attached.id, attached.size) == ("10102", len(longer.encode()))
    assert len(uploads(rsps)) == 1


def test_a_users_file_of_the_same_name_and_size_does_not_stand_in_for_the_bots(
    gateway: JiraGateway, rsps: responses.RequestsMock
) -> None:
    # Issue 13 finding 10: only the bot's own uploads count as already attached.
    planted = attachment_json("10099") | {"author": {"accountId": "acc-mallory"}}
    rsps.get(ISSUE, json=attachments_body(planted))
    rsps.post(UPLOAD, json=[attachment_json()])
    assert gateway.attach_text("PAY-1", PLAN_NAME, PLAN_TEXT).id == "10100"
    assert len(uploads(rsps)) == 1


def test_an_upload_whose_answer_is_lost_is_found_on_retry(
    gateway: JiraGateway, rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    rsps.get(ISSUE, json=attachments_body())
    rsps.post(UPLOAD, status=503, json={"errorMessages": ["try later"], "errors": {}})
    rsps.get(ISSUE, json=attachments_body(attachment_json()))  # the upload had landed
    assert gateway.attach_text("PAY-1", PLAN_NAME, PLAN_TEXT).id == "10100"
    assert len(uploads(rsps)) == 1 and len(clock.sleeps) == 1


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (413, ValidationError, "The attachment is too large."),
        (403, AuthenticationError, "You do not have permission to create attachments for this issue."),
    ],
)
def test_refused_uploads_are_permanent(
    gateway: JiraGateway,
    rsps: responses.RequestsMock,
    clock: FakeClock,
    status: int,
    error: type[Exception],
    message: str,
) -> None:
    rsps.get(ISSUE, json=attachments_body())
    rsps.post(UPLOAD, status=status, json={"errorMessages": [message], "errors": {}})
    with pytest.raises(error) as caught:
        gateway.attach_text("PAY-1", PLAN_NAME, PLAN_TEXT)
    assert f"POST issue/PAY-1/attachments: Jira answered {status} ({message})" in str(caught.value)
    assert len(uploads(rsps)) == 1 and clock.sleeps == []  # never retried


@pytest.mark.parametrize(
    "filename", ["", "../PAY-1-PLAN-v2.md", "plans/PAY-1.md", ".hidden", "PAY-1.md\n", "a b.md", "x" * 122]
)
def test_names_that_are_not_plain_file_names_are_refused_before_any_call(
    gateway: JiraGateway, rsps: responses.RequestsMock, filename: str
) -> None:
    with pytest.raises(ValidationError, match="not a plain file name"):
        gateway.attach_text("PAY-1", filename, PLAN_TEXT)
    assert len(rsps.calls) == 0
