"""The sandbox Jira: a local stand-in for Jira Cloud, for `make run` without a Jira site and for tests.

Clearly a sandbox, not a Jira: it speaks the subset of REST v2 the gateway uses (same paths, status codes,
pagination and JSON, errors as `{"errorMessages": [...], "errors": {...}}`), checks basic auth, keeps its state
in `var/sandbox-jira.json`, and sends webhooks like Jira Cloud (outbox.py). Seeded with projects DEMO and OPS
(seed.py). Parts: store.py (state file + outbox), tracker.py (what people do), rest_*.py (REST routes), page.py
(HTML page and admin endpoints), faults.py (fault injection), server.py (runs it all).
"""
