"""Orchestrations and webhook deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.store.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the first two tables."""
    op.create_table(
        "orchestrations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("issue_key", sa.String(64), nullable=False),
        sa.Column("project_key", sa.String(64), nullable=False),
        sa.Column("temporal_workflow_id", sa.String(255), nullable=False),
        sa.Column("temporal_run_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("current_phase", sa.String(16), nullable=True),
        sa.Column("started_by", sa.String(128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("temporal_run_id", name="uq_orchestrations_temporal_run_id"),
    )
    op.create_index("ix_orchestrations_issue_key", "orchestrations", ["issue_key"])
    op.create_index("ix_orchestrations_project_key", "orchestrations", ["project_key"])
    op.create_index("ix_orchestrations_workflow", "orchestrations", ["temporal_workflow_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("comment_id", sa.String(64), nullable=True),
        sa.Column("webhook_event", sa.String(64), nullable=False),
        sa.Column("issue_key", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
        sa.UniqueConstraint("comment_id", name="uq_webhook_deliveries_comment_id"),
    )
    op.create_index("ix_webhook_deliveries_issue_key", "webhook_deliveries", ["issue_key"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_webhook_deliveries_issue_key", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_orchestrations_workflow", table_name="orchestrations")
    op.drop_index("ix_orchestrations_project_key", table_name="orchestrations")
    op.drop_index("ix_orchestrations_issue_key", table_name="orchestrations")
    op.drop_table("orchestrations")
