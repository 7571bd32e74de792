"""Parsing and validating raw setting values; every error names the variable, in one line."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from workflows.ids import is_account_id

# Reads one variable: (name, parser, default) -> value (see app.config._build).
Getter = Callable[[str, Callable[[str, str], Any], Any], Any]

PHASES = ("EXPLORE", "PLAN", "CODE", "TEST", "FIX", "DOCUMENT")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def parse_duration(name: str, raw: str) -> timedelta:
    """Parse `90`, `30s`, `5m`, `2h` or `7d` into a timedelta."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}: expected a duration such as 30s, 5m, 2h or 7d, got {raw!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_bool(name: str, raw: str) -> bool:
    """Parse the usual spellings of a boolean."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def parse_list(raw: str) -> tuple[str, ...]:
    """Split a comma-separated list, dropping blanks."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_host_port(name: str, raw: str) -> str:
    """Check a `host:port` address."""
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected host:port, got {raw!r}")
    return raw.strip()


def parse_bind_address(name: str, raw: str) -> str:
    """Check an `ip:port` to listen on (`127.0.0.1:9464`, `0.0.0.0:9464`, `[::1]:9464`): an IP, not a host name."""
    value = raw.strip()
    host, sep, port = value.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        address = ipaddress.ip_address(host[1:-1] if bracketed else host)
    except ValueError:
        address = None
    if (
        not sep
        or address is None
        or (address.version == 6) != bracketed
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise ConfigError(f"{name}: expected ip:port to listen on, such as 127.0.0.1:9464 or 0.0.0.0:9464, got {raw!r}")
    return value


def parse_int(name: str, raw: str, minimum: int = 0) -> int:
    """Parse a whole number no smaller than `minimum`."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def parse_url(name: str, raw: str) -> str:
    """Check an http(s) URL and drop a trailing slash."""
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{name}: expected an http(s) URL, got {raw!r}")
    return value


def parse_account_id(name: str, raw: str) -> str:
    """Check an Atlassian account id such as `5f2a7b9c0d1e2f3a4b5c6d7e` or `712020:3f6a9c1e-...`."""
    value = raw.strip()
    if not is_account_id(value):
        raise ConfigError(f"{name}: expected an Atlassian account id (letters, digits, ':', '-'), got {raw!r}")
    return value


def parse_phases(name: str, raw: str) -> tuple[str, ...]:
    """Parse a list of phase names such as `EXPLORE,PLAN`."""
    phases = tuple(p.upper() for p in parse_list(raw))
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ConfigError(f"{name}: unknown phase(s) {', '.join(unknown)}; expected some of {', '.join(PHASES)}")
    return phases
