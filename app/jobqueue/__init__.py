"""The agent job queue in the database, shared by the queue activities, the CLI and the HTTP API.

locks.py makes check-then-update atomic (BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL); order.py is the
queue order (rework before backlog, then `order_in_queue`); claims.py hands a job to an agent; edits.py changes
the queue (enqueue, remove, move, pause, recover); views.py reads it; agents.py is the agent registry and health;
liveness.py stamps a job its dispatch activity still follows (the stuck sweep reads the stamp).
"""
