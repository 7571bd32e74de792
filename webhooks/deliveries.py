"""The durable record of the Jira deliveries we act on, so a redelivery or a comment's twin event acts once.

Order: claim (insert the row) → dispatch → settle (record the outcome), or release (delete the row) when
Temporal was unreachable, so Jira's retry of that delivery is acted on and not taken for a repeat. The unique
`delivery_id` and `comment_id` columns make the claim atomic across threads and processes. A claim left behind
by a process that died mid-request is taken over after `STALE_CLAIM`; the Temporal call it repeats is harmless
(a start reuses the live run; the workflow ignores a signal whose delivery id it has seen, and a takeover
sends the first delivery's id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.store.models import WebhookDelivery, utcnow
from webhooks.events import JiraEvent

CLAIMED = "dispatching"
# Longer than any request may live (gunicorn's worker timeout is 30 s, a Temporal call times out in 10 s).
STALE_CLAIM = timedelta(minutes=2)


# Built once: these run twice per delivery, and a prebuilt Core statement skips the ORM's per-call work.
_TABLE = cast(Table, WebhookDelivery.__table__)
_CLAIM = insert(_TABLE).returning(_TABLE.c.id)
_SETTLE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values(outcome=bindparam("outcome"), detail=bindparam("detail"))
)


@dataclass(frozen=True)
class Claim:
    """A delivery we hold; `delivery_id` is what the Temporal call carries (the first delivery's, on takeover)."""

    row_id: int
    delivery_id: str


class DeliveryStore:
    """Claims, settles and releases deliveries in the `webhook_deliveries` table."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def claim(self, event: JiraEvent, action: str) -> Claim | None:
        """Record the delivery before acting on it; None when it, or its comment, is already handled."""
        comment_id = event.comment.id if event.comment else None
        row = {
            "delivery_id": event.delivery_id,
            "comment_id": comment_id,
            "body_sha256": event.body_sha256 or None,
            "webhook_event": event.webhook_event,
            "issue_key": event.issue_key,
            "outcome": CLAIMED,
            "detail": action,
        }
        try:
            with self.session_factory.begin() as session:
                return Claim(session.execute(_CLAIM, row).scalar_one(), event.delivery_id)
        except IntegrityError:
            return self._take_over_stale(event.delivery_id, comment_id)

    def settle(self, claim: Claim, outcome: str, detail: str) -> None:
        """Record what was done for a claimed delivery."""
        with self.session_factory.begin() as session:
            session.execute(_SETTLE, {"row_id": claim.row_id, "outcome": outcome, "detail": detail[:500]})

    def release(self, claim: Claim) -> None:
        """Forget a claimed delivery that could not be acted on, so Jira's retry of it is acted on."""
        with self.session_factory.begin() as session:
            session.execute(
                delete(WebhookDelivery).where(WebhookDelivery.id == claim.row_id, WebhookDelivery.outcome == CLAIMED)
            )

    def _take_over_stale(self, delivery_id: str, comment_id: str | None) -> Claim | None:
        match = WebhookDelivery.delivery_id == delivery_id
        if comment_id is not None:
            match = or_(match, WebhookDelivery.comment_id == comment_id)
        cutoff = utcnow() - STALE_CLAIM
        with self.session_factory.begin() as session:
            rows = session.scalars(select(WebhookDelivery).where(match)).all()
            if len(rows) != 1 or rows[0].outcome != CLAIMED or rows[0].received_at >= cutoff:
                return None
            # Conditional: of two requests taking over the same stale claim, exactly one wins.
            taken = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == rows[0].id,
                    WebhookDelivery.outcome == CLAIMED,
                    WebhookDelivery.received_at < cutoff,
                )
                .values(received_at=utcnow())
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return Claim(rows[0].id, rows[0].delivery_id)
