"""The job queue: project queues (paused flag, claim lock), job specs, agents' last health check.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.store.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add project_queues, agent_jobs.spec and agents.last_error/last_checked_at."""
    op.create_table(
        "project_queues",
        sa.Column("project_key", sa.String(64), primary_key=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_by", sa.String(128), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("agent_jobs") as batch:
        batch.add_column(sa.Column("spec", sa.Text(), nullable=True))
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_checked_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("last_checked_at")
        batch.drop_column("last_error")
    with op.batch_alter_table("agent_jobs") as batch:
        batch.drop_column("spec")
    op.drop_table("project_queues")
