"""The chat notification's settings: a Slack-compatible incoming webhook, its timeout, which events, whom to mention."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from app.config.parsing import ConfigError, Getter, parse_duration, parse_list

NOTIFY_EVENTS = ("gate", "completed", "failed", "gate_timeout")
NOTIFY_MENTIONS = ("starter", "approvers")


@dataclass(frozen=True)
class NotifySettings:
    """Where notifications go (None = nowhere), how long a post may take, and which events and people they name."""

    # An incoming webhook's path is its credential (hooks.slack.com/services/T…/B…/<token>): never shown.
    webhook_url: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0
    events: tuple[str, ...] = NOTIFY_EVENTS
    mention: tuple[str, ...] = NOTIFY_MENTIONS

    @property
    def webhook_host(self) -> str | None:
        """The webhook's host name alone, safe to print; None when no webhook is configured."""
        return urlsplit(self.webhook_url).hostname if self.webhook_url else None


def notify_settings(get: Getter) -> NotifySettings:
    """The notification settings from the environment."""
    timeout: timedelta = get("NOTIFY_TIMEOUT", parse_duration, timedelta(seconds=10))
    if timeout <= timedelta(0):
        raise ConfigError(f"NOTIFY_TIMEOUT: must be more than 0s, got {timeout.total_seconds():g}s")
    return NotifySettings(
        webhook_url=get("NOTIFY_WEBHOOK_URL", _webhook_url, None),
        timeout_seconds=timeout.total_seconds(),
        events=get("NOTIFY_EVENTS", _choices(NOTIFY_EVENTS, "event"), NOTIFY_EVENTS),
        mention=get("NOTIFY_MENTION", _choices(NOTIFY_MENTIONS, "mention"), NOTIFY_MENTIONS),
    )


def _webhook_url(name: str, raw: str) -> str:
    # Unlike parse_url, the message never repeats the value: the URL is the secret.
    value = raw.strip()
    if not re.match(r"^https?://[^\s/?#]+([/?#]\S*)?$", value):
        raise ConfigError(
            f"{name}: expected an http(s) URL such as https://hooks.slack.com/services/… (value not shown)"
        )
    return value


def _choices(allowed: tuple[str, ...], what: str) -> Callable[[str, str], tuple[str, ...]]:
    def parse(name: str, raw: str) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(word.lower() for word in parse_list(raw)))  # lower-cased, each once, in order
        unknown = [word for word in chosen if word not in allowed]
        if unknown or not chosen:
            given = f"unknown {what}(s) {', '.join(unknown)}" if unknown else f"no {what} given"
            raise ConfigError(f"{name}: {given}; expected some of {', '.join(allowed)}")
        return chosen

    return parse
