"""Webhook deliveries remember the body's hash, so a captured body re-sent under a new identifier acts once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add webhook_deliveries.body_sha256 (unique; NULL for deliveries recorded before)."""
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("body_sha256", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_webhook_deliveries_body_sha256", ["body_sha256"])


def downgrade() -> None:
    """Drop webhook_deliveries.body_sha256."""
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_constraint("uq_webhook_deliveries_body_sha256", type_="unique")
        batch.drop_column("body_sha256")
