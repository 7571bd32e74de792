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
