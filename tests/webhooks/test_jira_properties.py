"""Property tests of POST /webhooks/jira: arbitrary bodies and headers never give a 500, nothing is started or
signalled without a valid signature, and a delivery sent twice acts at most once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.chaos.report import FIGURES, scale
from tests.webhooks.conftest import FakeTemporal
from tests.webhooks.jira_payloads import encode, fixture_names, load_jira_fixture, signed_headers

READABLE = [name for name in fixture_names() if "malformed" not in name]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)
JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ANSWERS = {200, 202, 400, 401}
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    """A real payload with one value somewhere replaced by arbitrary JSON, or removed."""
    payload = load_jira_fixture(draw(st.sampled_from(READABLE)))
    node: Any = payload
    path: list[Any] = []
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        path.append(key)
        node = node[key]
    if not path:
        return encode(payload)
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON)
    return encode(payload)


BODIES = st.one_of(
    st.binary(max_size=300), JSON.map(lambda v: json.dumps(v).encode()), mutated_fixture(), mutated_fixture()
)


@st.composite
def headers(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], bool]:
    """Headers with a valid, missing, wrong or arbitrary signature (and whether it is valid)."""
    mode = draw(st.sampled_from(["valid", "valid", "missing", "wrong-secret", "arbitrary"]))
    sent: dict[str, str] = {}
    if mode == "valid":
        sent = signed_headers(body)
    elif mode == "wrong-secret":
        sent = signed_headers(body, secret="not the secret")
    elif mode == "arbitrary":
        sent["X-Hub-Signature"] = draw(HEADER_TEXT)
    if draw(st.booleans()):
        sent["X-Atlassian-Webhook-Identifier"] = draw(HEADER_TEXT)
    if draw(st.booleans()):
        sent["Content-Type"] = draw(HEADER_TEXT)
    return sent, mode == "valid"


def test_no_input_gives_a_500_and_nothing_acts_without_a_valid_signature(
    client: FlaskClient, fake_temporal: FakeTemporal
) -> None:
    fake_temporal.live.add("orchestration-PAY-317")  # so signals reach a "run" and are recorded
    answers: Counter[int] = Counter()
    unsigned = {"sent": 0, "effects": 0}

    # 10,000 deliveries under `make chaos` (issue 13's chaos suite), 150 in `make test`.
    @settings(PROPERTY_SETTINGS, max_examples=scale(10_000, 150))
    @given(data=st.data(), body=BODIES)
    def deliver(data: st.DataObject, body: bytes) -> None:
        sent, valid = data.draw(headers(body))
        before = len(fake_temporal.calls)
        response = client.post("/webhooks/jira", data=body, headers=sent)
        event(f"answer {response.status_code}")
        answers[response.status_code] += 1
        if not valid:
            unsigned["sent"] += 1
            unsigned["effects"] += len(fake_temporal.calls) - before
        assert response.status_code in ANSWERS, response.get_data(as_text=True)
        assert response.is_json
        if not valid:
            assert response.status_code == 401
            assert len(fake_temporal.calls) == before

    deliver()
    scenario = "Fuzzed deliveries to POST /webhooks/jira (hypothesis; in-process web app, real database)"
    FIGURES.add(scenario, "Deliveries (without a valid signature)", f"{sum(answers.values())} ({unsigned['sent']})")
    FIGURES.add(scenario, "Answers", ", ".join(f"{n} × {status}" for status, n in sorted(answers.items())))
    FIGURES.add(scenario, "5xx answers", sum(n for status, n in answers.items() if status >= 500), 0)
    FIGURES.add(scenario, "Effects (Temporal calls) without a valid signature", unsigned["effects"], 0)


@PROPERTY_SETTINGS
@given(body=mutated_fixture(), delivery=st.uuids() | st.none())
def test_a_delivery_sent_twice_acts_at_most_once(
    client: FlaskClient, fake_temporal: FakeTemporal, body: bytes, delivery: Any
) -> None:
    fake_temporal.live.add("orchestration-PAY-317")
    sent = signed_headers(body, str(delivery) if delivery else None)
    first = client.post("/webhooks/jira", data=body, headers=sent)
    calls = len(fake_temporal.calls)
    again = client.post("/webhooks/jira", data=body, headers=sent)
    assert {first.status_code, again.status_code} <= ANSWERS
    assert len(fake_temporal.calls) == calls
    if first.status_code == 202:
        assert again.status_code == 200 and again.json["reason"].startswith("already handled")
