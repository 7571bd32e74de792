"""How long ended work is kept in the database, and how often the retention sweep deletes the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.config.parsing import ConfigError, Getter, parse_duration, parse_int

# Zero keeps a kind of row forever.
KEEP = timedelta(0)


@dataclass(frozen=True)
class RetentionSettings:
    """Ages after which rows no live run needs are deleted (zero: kept forever), and the sweep's pace."""

    interval: timedelta = timedelta(hours=1)
    batch_size: int = 500
    deliveries: timedelta = timedelta(days=30)
    job_logs: timedelta = timedelta(days=30)
    job_specs: timedelta = timedelta(days=7)
    jobs: timedelta = timedelta(days=90)
    checkpoints: timedelta = timedelta(days=30)
    notifications: timedelta = timedelta(days=30)


def retention_settings(get: Getter, webhook_max_age: timedelta) -> RetentionSettings:
    """The retention settings from the environment; deliveries outlive the webhook replay window."""

    settings = RetentionSettings(
        interval=get("RETENTION_INTERVAL", parse_duration, timedelta(hours=1)),
        batch_size=get("RETENTION_BATCH_SIZE", lambda n, raw: parse_int(n, raw, 1), 500),
        deliveries=get("RETENTION_DELIVERIES", parse_duration, timedelta(days=30)),
        job_logs=get("RETENTION_JOB_LOGS", parse_duration, timedelta(days=30)),
        job_specs=get("RETENTION_JOB_SPECS", parse_duration, timedelta(days=7)),
        jobs=get("RETENTION_JOBS", parse_duration, timedelta(days=90)),
        checkpoints=get("RETENTION_CHECKPOINTS", parse_duration, timedelta(days=30)),
        notifications=get("RETENTION_NOTIFICATIONS", parse_duration, timedelta(days=30)),
    )
    if settings.interval < timedelta(minutes=1):
        raise ConfigError(f"RETENTION_INTERVAL: must be at least 1m, got {settings.interval.total_seconds():g}s")
    # A delivery forgotten while Jira may still retry it (or while a captured body still passes the age check)
    # would act twice: the dedup rows must outlive JIRA_WEBHOOK_MAX_AGE (with the age check off, 0s, the
    # operator has chosen to accept old events, and only the delivery store remembers them).
    if settings.deliveries != KEEP and webhook_max_age != KEEP and settings.deliveries <= webhook_max_age:
        raise ConfigError(
            f"RETENTION_DELIVERIES: must be longer than JIRA_WEBHOOK_MAX_AGE ({webhook_max_age}) or 0 (kept "
            "forever); a delivery forgotten sooner would act again when replayed"
        )
    return settings
