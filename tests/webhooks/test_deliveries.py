"""The delivery store on SQLite and PostgreSQL: one claim per delivery and per comment, release, stale takeover."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.store.db import make_engine, make_session_factory
from app.store.models import WebhookDelivery, utcnow
from tests.webhooks.jira_payloads import fixture_body
from webhooks.deliveries import CLAIMED, STALE_CLAIM, Claim, DeliveryStore
from webhooks.events import JiraEvent, read_jira_delivery
from webhooks.intents import JIRA_INTENT_PARSERS


@pytest.fixture
def store(database_url: str) -> Iterator[DeliveryStore]:
    engine = make_engine(database_url)
    yield DeliveryStore(make_session_factory(engine))
    engine.dispose()


def event(name: str, delivery_id: str | None) -> JiraEvent:
    read = read_jira_delivery(fixture_body(name), delivery_id, JIRA_INTENT_PARSERS)
    assert isinstance(read, JiraEvent)
    return read


def outcomes(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory() as session:
        return {r.delivery_id: r.outcome for r in session.scalars(select(WebhookDelivery))}


def test_a_delivery_is_claimed_once_then_settled(store: DeliveryStore) -> None:
    label = event("issue_updated__label_added_among_others", "d-1")
    claim = store.claim(label, "StartRequested")
    assert claim is not None and claim.delivery_id == "d-1"
    assert store.claim(label, "StartRequested") is None
    store.settle(claim, "dispatched", "start orchestration-PAY-317")
    assert outcomes(store.session_factory) == {"d-1": "dispatched"}
    assert store.claim(label, "StartRequested") is None


def test_a_comment_is_claimed_once_whichever_event_brings_it(store: DeliveryStore) -> None:
    assert store.claim(event("issue_updated__comment_twin", "d-twin"), "Approved") is not None
    assert store.claim(event("comment_created__approve_with_notes", "d-comment"), "Approved") is None
    assert store.claim(event("comment_created__pause", "d-other-comment"), "Paused") is not None


def test_a_released_claim_can_be_claimed_again(store: DeliveryStore) -> None:
    pause = event("comment_created__pause", "d-1")
    claim = store.claim(pause, "Paused")
    assert claim is not None
    store.release(claim)
    assert outcomes(store.session_factory) == {}
    assert store.claim(pause, "Paused") is not None


def _age(store: DeliveryStore, by: timedelta) -> None:
    with store.session_factory.begin() as session:
        session.execute(update(WebhookDelivery).values(received_at=utcnow() - by))


def test_a_stale_claim_is_taken_over_with_the_first_delivery_id(store: DeliveryStore) -> None:
    assert store.claim(event("comment_created__approve_with_notes", "d-first"), "Approved") is not None
    twin = event("issue_updated__comment_twin", "d-twin")
    assert store.claim(twin, "Approved") is None  # fresh: the first request may still be acting
    _age(store, STALE_CLAIM + timedelta(seconds=5))
    taken = store.claim(twin, "Approved")
    assert taken is not None and taken.delivery_id == "d-first"  # the workflow sees the same delivery id again
    assert store.claim(twin, "Approved") is None


def test_a_settled_delivery_is_never_taken_over(store: DeliveryStore) -> None:
    pause = event("comment_created__pause", "d-1")
    claim = store.claim(pause, "Paused")
    assert claim is not None
    store.settle(claim, "dispatched", "pause")
    _age(store, timedelta(days=1))
    assert store.claim(pause, "Paused") is None


def test_concurrent_claims_of_one_delivery_have_one_winner(store: DeliveryStore) -> None:
    label = event("issue_updated__label_added_among_others", "d-race")
    results: list[Claim | None] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        barrier.wait(timeout=10)
        results.append(store.claim(label, "StartRequested"))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 6
    assert sum(result is not None for result in results) == 1
    assert outcomes(store.session_factory) == {"d-race": CLAIMED}
