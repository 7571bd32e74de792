"""How many activities one worker runs at once, and the database connections they take."""

from __future__ import annotations

# Sync activities (the jira package, SQLAlchemy) run on this many threads.
ACTIVITY_THREADS = 32
# Each activity thread holds at most one connection at a time; the margin covers the worker's own start-up calls,
# so no activity waits for a connection another thread holds.
DB_POOL = ACTIVITY_THREADS + 4
