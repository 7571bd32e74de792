"""The web surface's own limits and keys: the session key, open live streams, request bodies, the health cache."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from app.config.parsing import ConfigError, Getter, parse_duration, parse_int

MIN_SECRET_KEY = 32
MAX_STREAMS = 500


@dataclass(frozen=True)
class WebSettings:
    """Session signing, and what one web process gives to live streams, request bodies and health checks."""

    # Signs the console's session cookie; empty = a per-process key in dev, refused on a real Jira site.
    secret_key: str = field(default="", repr=False)
    # Live streams (logs, run events) open at once per process, each on a thread of its own on top of WEB_THREADS,
    # so viewers never take the threads that answer Jira's webhooks.
    max_streams: int = 25
    max_body_bytes: int = 64 * 1024
    health_cache: timedelta = timedelta(seconds=10)
    # SSO behind a proxy (oauth2-proxy, say): the header naming the signed-in person, believed only from these
    # addresses. Empty = console login by personal token only.
    trusted_user_header: str = ""
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def trusted_proxies_include(self, address: str | None) -> bool:
        """Whether a request from `address` may name its user in the trusted header."""
        if not self.trusted_user_header or not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


def web_settings(get: Getter, text: Callable[[str, str], str]) -> WebSettings:
    """The web settings from the environment."""
    secret_key = text("ORCHESTRATOR_SECRET_KEY", "")
    if secret_key and len(secret_key) < MIN_SECRET_KEY:
        raise ConfigError(
            f"ORCHESTRATOR_SECRET_KEY: must be at least {MIN_SECRET_KEY} characters (e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    max_streams: int = get("WEB_MAX_STREAMS", lambda n, raw: parse_int(n, raw, 0), 25)
    if max_streams > MAX_STREAMS:
        raise ConfigError(
            f"WEB_MAX_STREAMS: {max_streams} is more threads than one web process should hold (at most "
            f"{MAX_STREAMS}); run more web workers (WEB_WORKERS) instead"
        )
    header, proxies = _trusted_proxy(text)
    return WebSettings(
        secret_key=secret_key,
        trusted_user_header=header,
        trusted_proxies=proxies,
        max_streams=max_streams,
        max_body_bytes=get("WEB_MAX_BODY_BYTES", lambda n, raw: parse_int(n, raw, 1024), 64 * 1024),
        health_cache=get("HEALTH_CACHE_TTL", parse_duration, timedelta(seconds=10)),
    )


def _trusted_proxy(
    text: Callable[[str, str], str],
) -> tuple[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    header = text("ORCHESTRATOR_TRUSTED_USER_HEADER", "").strip()
    raw = text("ORCHESTRATOR_TRUSTED_PROXIES", "").strip()
    if header and not header.replace("-", "").isalnum():
        raise ConfigError(f"ORCHESTRATOR_TRUSTED_USER_HEADER: {header!r} is not a header name (e.g. X-Forwarded-Email)")
    networks = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"ORCHESTRATOR_TRUSTED_PROXIES: {part!r} is not an address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
            ) from None
    if header and not networks:
        # Without it anyone who reaches the port could name themselves in the header.
        raise ConfigError(
            "ORCHESTRATOR_TRUSTED_USER_HEADER needs ORCHESTRATOR_TRUSTED_PROXIES: the addresses of the proxy that "
            "sets it (the header is believed from nowhere else)"
        )
    return header, tuple(networks)
