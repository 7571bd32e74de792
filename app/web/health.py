"""`GET /healthz`: database reachable and migrated, Temporal reachable, webhooks authenticated; cached.

The checks run at most once per HEALTH_CACHE_TTL per process (lazily, by one request while the others answer the
last result), so health probes and unauthenticated traffic cannot turn into one Temporal call per hit. Anyone gets
`ok` or `degraded` (200 or 503, for load balancers); only an authenticated caller (bearer token or console
session) gets what was checked and why it failed, since details name hosts and configuration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from app.services.checks import Check, check_database, check_temporal, check_webhooks
from app.web.auth import bearer_identity, console_identity

bp = Blueprint("health", __name__)
CACHE = "health_cache"


class HealthCache:
    """The last checks' result, refreshed when older than `ttl` seconds by one caller at a time."""

    def __init__(self, ttl: float, probe: Callable[[], list[Check]], clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.probe = probe
        self.clock = clock
        self.runs = 0
        self._lock = threading.Lock()
        self._checks: list[Check] | None = None
        self._at = 0.0

    def checks(self) -> list[Check]:
        """The cached checks, or fresh ones when stale (others keep getting the stale ones while it runs)."""
        last = self._checks
        if last is not None and self.clock() - self._at < self.ttl:
            return last
        # Only the very first caller waits; later ones answer the last result while one thread refreshes it.
        if not self._lock.acquire(blocking=last is None):
            assert last is not None
            return last
        try:
            if self._checks is None or self.clock() - self._at >= self.ttl:
                self._checks = self.probe()
                self._at = self.clock()
                self.runs += 1
            return self._checks
        finally:
            self._lock.release()


@bp.record_once
def _make_cache(state: BlueprintSetupState) -> None:
    ext = state.app.extensions

    def probe() -> list[Check]:
        return [
            check_database(ext["db_engine"]),
            check_temporal(ext["temporal"]),
            check_webhooks(ext["settings"].jira),
        ]

    ext[CACHE] = HealthCache(ext["settings"].web.health_cache.total_seconds(), probe)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 `ok` when every dependency answers, else 503 `degraded`; details for authenticated callers only."""
    checks = current_app.extensions[CACHE].checks()
    ok = all(check.ok for check in checks)
    body: dict[str, object] = {"status": "ok" if ok else "degraded"}
    if bearer_identity() or console_identity():
        body["checks"] = {check.name: {"ok": check.ok, "detail": check.detail} for check in checks}
    return jsonify(body), 200 if ok else 503
