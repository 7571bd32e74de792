"""A covering index for GET /metrics: jobs by status, phase, queue kind and error kind, with their recoveries.

The scrape's GROUP BY then reads the index in order instead of sorting the table (135 ms -> 16 ms on 100k jobs,
SQLite).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["status", "phase", "queue_kind", "error_kind", "recoveries"]


def upgrade() -> None:
    """Create ix_agent_jobs_metrics."""
    op.create_index("ix_agent_jobs_metrics", "agent_jobs", COLUMNS)


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_agent_jobs_metrics", table_name="agent_jobs")
