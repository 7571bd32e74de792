"""The Temporal client gateway: one client per process, and a sync bridge for Flask.

The Temporal client is asyncio-based and not safe to share across event loops or threads
(sdk-python#147), and it does not survive a fork (sdk-python#11, #385). So each gunicorn worker
process owns exactly one event loop, on a daemon thread, created lazily on first use (after the
fork); sync Flask views hand coroutines to it with `run_coroutine_threadsafe` and wait with a
timeout. Flask's `async def` views would run each request on a fresh loop, which is why we do not
use them for Temporal calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from app.config import TemporalSettings

T = TypeVar("T")

# Statuses that mean "Temporal is not there right now", as opposed to "your call was wrong".
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}


class TemporalUnavailable(RuntimeError):
    """Temporal could not be reached (connection refused, timeout, TLS or auth failure)."""


async def connect(
    settings: TemporalSettings, timeout: timedelta = timedelta(seconds=5), runtime: Runtime | None = None
) -> Client:
    """Connect a client with the configured address, namespace, TLS and API key (on `runtime`, else the default)."""
    kwargs = settings.connect_kwargs()
    target = kwargs.pop("target_host")
    try:
        return await asyncio.wait_for(Client.connect(target, runtime=runtime, **kwargs), timeout.total_seconds())
    except (TimeoutError, RuntimeError, RPCError) as err:
        raise TemporalUnavailable(_describe_connect_error(settings, err)) from None


_KNOWN_REASONS = (
    ("dns error", "the host name does not resolve"),
    ("Connection refused", "connection refused (is the server running?)"),
    ("InvalidCertificate", "TLS certificate rejected"),
    ("tls", "TLS handshake failed"),
    ("Unauthenticated", "credentials refused (check TEMPORAL_API_KEY)"),
    ("PermissionDenied", "permission denied for this namespace"),
)


def _describe_connect_error(settings: TemporalSettings, err: BaseException) -> str:
    text = str(err)
    reason = next((plain for marker, plain in _KNOWN_REASONS if marker in text), None)
    if reason is None:
        reason = "timed out" if isinstance(err, TimeoutError) else (text.splitlines()[0][:160] if text else "failed")
    if settings.api_key:
        reason = reason.replace(settings.api_key, "***")
    return f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}): {reason}"


def is_unavailable(err: BaseException) -> bool:
    """True when an error means Temporal could not be reached rather than that the call was refused."""
    if isinstance(err, TemporalUnavailable | TimeoutError | ConnectionError):
        return True
    return isinstance(err, RPCError) and err.status in _UNAVAILABLE


class TemporalGateway:
    """Sync access to one lazily connected Temporal client, safe to use from many Flask threads."""

    def __init__(self, settings: TemporalSettings, call_timeout: timedelta = timedelta(seconds=10)) -> None:
        self.settings = settings
        self.call_timeout = call_timeout
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Client | None = None
        self._connecting: asyncio.Lock | None = None
        self._thread: threading.Thread | None = None

    def call(self, fn: Callable[[Client], Awaitable[T]], timeout: timedelta | None = None) -> T:
        """Run `fn(client)` on the gateway's loop and return its result; raise TemporalUnavailable on outage."""
        loop = self._ensure_loop()
        limit = (timeout or self.call_timeout).total_seconds()
        future = asyncio.run_coroutine_threadsafe(self._with_client(fn), loop)
        try:
            return future.result(limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TemporalUnavailable(f"Temporal at {self.settings.address} did not answer within {limit:g}s") from None
        except RPCError as err:
            if err.status in _UNAVAILABLE:
                raise TemporalUnavailable(f"Temporal at {self.settings.address}: {err.message}") from None
            raise

    def check(self) -> str | None:
        """None when Temporal answers its health check, otherwise what is wrong."""

        async def healthy(client: Client) -> bool:
            return await client.service_client.check_health(timeout=timedelta(seconds=3))

        try:
            ok = self.call(healthy, timeout=timedelta(seconds=5))
        except TemporalUnavailable as err:
            return str(err)
        except RPCError as err:
            return f"Temporal at {self.settings.address} refused the health check: {err.message}"
        return None if ok else f"Temporal at {self.settings.address} is up but not serving"

    def close(self) -> None:
        """Stop the loop thread (the client itself has no close)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop, self._thread, self._client = None, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()

    async def _with_client(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        if self._client is None:
            assert self._connecting is not None
            async with self._connecting:
                if self._client is None:
                    self._client = await connect(self.settings)
        return await fn(self._client)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A loop or client inherited through fork is unusable: start over in the child.
            if self._loop is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._client = None
                self._loop = asyncio.new_event_loop()
                self._connecting = asyncio.Lock()
                self._thread = threading.Thread(target=self._loop.run_forever, name="temporal-gateway", daemon=True)
                self._thread.start()
            return self._loop


async def start_once(
    client: Client, task_queue: str, run: Callable[[Any, Any], Awaitable[Any]], arg: Any, workflow_id: str
) -> bool:
    """Start `run(arg)` as `workflow_id` unless that id ever ran (a retried start starts nothing); False then."""
    try:
        await client.start_workflow(
            run,
            arg,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        return False  # it ran (and ended) already
    return True


class Found:
    """Whether the workflow (or schedule) a `not_found_is` block called was there."""

    def __init__(self) -> None:
        self.value = True

    def __bool__(self) -> bool:
        return self.value


@contextmanager
def not_found_is(replacement: Exception | None) -> Iterator[Found]:
    """The one NOT_FOUND rule: Temporal's NOT_FOUND raises `replacement` (NoRun, ...), or with None is swallowed and
    leaves the yielded `Found` false; every other error passes."""
    found = Found()
    try:
        yield found
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        if replacement is not None:
            raise replacement from None
        found.value = False
