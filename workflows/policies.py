"""Retry policies and timeouts of the workflows' activities, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# The seed's policy: 5 s, ×2, at most 5 min apart, 3 attempts; refused credentials and bad requests are final.
SEED_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=3,
    non_retryable_error_types=["ValidationError", "AuthenticationError", "JiraNotFound"],
)
# Our own database: more patience, since a record lost to a short outage would make the dashboard lie.
DB_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)
SHORT = timedelta(minutes=2)
# Queueing and dispatching a job (activities/dispatch.py) heartbeat every 5 s: a worker lost mid-dispatch is noticed
# after three missed beats (the activity's start-to-close stays SHORT: a dispatch may wait on several claims).
DISPATCH_HEARTBEAT = timedelta(seconds=15)
# A record write (the run's row, a phase's end, a checkpoint, a job's assignment, end or place in the queue: one
# transaction each): milliseconds of work, whose one possible wait is for
# the database's lock (SQLite's busy timeout, 30 s; PostgreSQL's lock_timeout, 10 s). A worker killed during one
# leaves the run waiting for this timeout before the write is tried again (it is idempotent), so it is not SHORT's
# two minutes.
DB_WRITE = timedelta(seconds=45)
# The start-to-close of every activity that calls Jira. The gateway retries 429/5xx for JIRA_RETRY_BUDGET (2 min)
# and its last call may take JIRA_TIMEOUT (30 s) more: a shorter timeout would cut that retry short and start the
# whole activity again on top of it. The worker refuses settings that do not fit (`jira_budget_problem`).
JIRA_CALL = timedelta(minutes=5)
JIRA_MARGIN = timedelta(seconds=30)  # the activity's own work around the call (reading, a database write)
# Every Jira activity heartbeats every 5 s from a thread of its own while it works (activities/jira.py), so a worker
# that dies mid-call is noticed after three missed beats and the call is tried again elsewhere (it was 30 s: a
# killed worker's status comment then trailed the run by half a minute).
JIRA_HEARTBEAT = timedelta(seconds=15)


def jira_budget_problem(retry_budget: timedelta, call_timeout: timedelta) -> str | None:
    """Why JIRA_RETRY_BUDGET and JIRA_TIMEOUT do not fit in a Jira activity's JIRA_CALL, or None when they do."""
    needed = retry_budget + call_timeout + JIRA_MARGIN
    if needed <= JIRA_CALL:
        return None
    room = JIRA_CALL - call_timeout - JIRA_MARGIN
    return (
        f"JIRA_RETRY_BUDGET ({retry_budget.total_seconds():g}s) plus JIRA_TIMEOUT ({call_timeout.total_seconds():g}s) "
        f"does not fit in a Jira activity's {JIRA_CALL.total_seconds():g}s; "
        f"set JIRA_RETRY_BUDGET to at most {max(room.total_seconds(), 0):g}s"
    )


# The forge: like the seed's, with a few more attempts (a rate limit's reset can be minutes away); a refused token,
# a missing repository or a request the forge rejects are final (activities/forge.py PERMANENT).
FORGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=5,
    non_retryable_error_types=["ForgePermission", "ForgeNotFound", "ForgeInvalid", "AlreadyExists", "ForgeDisabled"],
)
FORGE_TIMEOUT = timedelta(minutes=5)  # one attempt, its own bounded retries included (FORGE_RETRY_BUDGET, 2m)
FORGE_HEARTBEAT = timedelta(seconds=30)  # the activity heartbeats every few seconds: a dead worker shows in 30 s
