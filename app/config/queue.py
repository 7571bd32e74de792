"""The job queue's settings: monitor ticks, agent health, job recovery and the reconciliation sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.config.parsing import ConfigError, Getter, parse_duration, parse_int


@dataclass(frozen=True)
class QueueSettings:
    """The job queue's schedules: monitor ticks, agent health, job recovery and the reconciliation sweep."""

    monitor_interval: timedelta = timedelta(seconds=30)
    health_interval: timedelta = timedelta(seconds=30)
    offline_after: int = 3
    recovery_interval: timedelta = timedelta(minutes=5)
    stuck_after: timedelta = timedelta(minutes=60)
    max_recoveries: int = 3
    reconcile_interval: timedelta = timedelta(minutes=5)
    # How far back the sweep looks for commands and approve moves the webhook missed (an outage longer than this
    # is not recovered: Jira's own retries have ended by then, and the issue may have moved on).
    reconcile_lookback: timedelta = timedelta(hours=24)


def queue_settings(get: Getter) -> QueueSettings:
    """The queue settings from the environment."""

    def interval(name: str, default: timedelta) -> timedelta:
        value: timedelta = get(name, parse_duration, default)
        if value < timedelta(seconds=1):
            raise ConfigError(f"{name}: must be at least 1s, got {value.total_seconds():g}s")
        return value

    return QueueSettings(
        monitor_interval=interval("QUEUE_MONITOR_INTERVAL", timedelta(seconds=30)),
        health_interval=interval("AGENT_HEALTH_INTERVAL", timedelta(seconds=30)),
        offline_after=get("AGENT_OFFLINE_AFTER", lambda n, raw: parse_int(n, raw, 1), 3),
        recovery_interval=interval("JOB_RECOVERY_INTERVAL", timedelta(minutes=5)),
        stuck_after=interval("JOB_STUCK_AFTER", timedelta(minutes=60)),
        max_recoveries=get("JOB_MAX_RECOVERIES", parse_int, 3),
        reconcile_interval=interval("RECONCILE_INTERVAL", timedelta(minutes=5)),
        reconcile_lookback=interval("RECONCILE_LOOKBACK", timedelta(hours=24)),
    )
