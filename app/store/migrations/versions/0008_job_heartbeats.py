"""Agent jobs remember their dispatch activity's last heartbeat, so a quiet but followed job is not taken for stuck.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.store.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add agent_jobs.heartbeat_at (NULL until the job's dispatch activity first records one)."""
    with op.batch_alter_table("agent_jobs") as batch:
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Drop agent_jobs.heartbeat_at."""
    with op.batch_alter_table("agent_jobs") as batch:
        batch.drop_column("heartbeat_at")
