"""The web surface's own limits and keys: the session key, open live streams, request bodies, the health cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from app.config.parsing import ConfigError, Getter, parse_duration, parse_int

MIN_SECRET_KEY = 32


@dataclass(frozen=True)
class WebSettings:
    """Session signing, and what one web process gives to live streams, request bodies and health checks."""

    # Signs the console's session cookie; empty = a per-process key in dev, refused on a real Jira site.
    secret_key: str = field(default="", repr=False)
    # Live log streams open at once per process; the other threads stay free for Jira's webhooks.
    max_streams: int = 2
    max_body_bytes: int = 64 * 1024
    health_cache: timedelta = timedelta(seconds=10)


def web_settings(get: Getter, text: Callable[[str, str], str], threads: int) -> WebSettings:
    """The web settings from the environment; `threads` is WEB_THREADS (streams must leave some for webhooks)."""
    secret_key = text("ORCHESTRATOR_SECRET_KEY", "")
    if secret_key and len(secret_key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"ORCHESTRATOR_SECRET_KEY: must be at least {MIN_SECRET_KEY} characters (e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    max_streams: int = get("WEB_MAX_STREAMS", parse_int, threads // 2)
    if max_streams >= threads:
        raise ConfigError(
            f"WEB_MAX_STREAMS: {max_streams} live streams would take every one of the {threads} WEB_THREADS and "
            "leave none to answer Jira's webhooks; set it below WEB_THREADS"
        )
    return WebSettings(
        secret_key=secret_key,
        max_streams=max_streams,
        max_body_bytes=get("WEB_MAX_BODY_BYTES", lambda n, raw: parse_int(n, raw, 1024), 64 * 1024),
        health_cache=get("HEALTH_CACHE_TTL", parse_duration, timedelta(seconds=10)),
    )
