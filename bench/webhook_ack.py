"""Webhook ack latency: signed label-added deliveries at a fixed rate against gunicorn + a real Temporal dev server.

Starts `temporal server start-dev` (in memory) and gunicorn (our config, the real app, a temporary SQLite DB) on
free loopback ports, drives POST /webhooks/jira from keep-alive connections on one event loop at RATE deliveries/s for
SECONDS, then reports p50/p99/max latency, errors, and how many workflows the accepted start deliveries made
(listed from Temporal: there must be exactly one per issue). Each issue gets three deliveries, one per pass over
the issues (10 s apart at the defaults):
the label-added delivery, Jira's retry of it (same identifier), and a second label-added delivery (a new
identifier) while the run is live. Everything stops by itself; the whole run is bounded by DEADLINE.

    python bench/webhook_ack.py [--rate 100] [--seconds 30] [--driver asyncio|threads]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from app.cli.process_exit import run_and_exit
from app.store.migrate import upgrade
from webhooks.verify import sign_jira_body

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
BOT = "bench-bot-account"
TASK_QUEUE = "bench-webhook-ack"
DEADLINE = 240.0  # seconds for the whole run, start-up and teardown included
CONNECTIONS = 16
# Jira sends the whole label sets before and after (FACTS §1.5).
LABELS_CHANGE = {
    "field": "labels",
    "fieldtype": "jira",
    "fieldId": "labels",
    "from": None,
    "fromString": "backend",
    "to": None,
    "toString": "ai-orchestrate backend",
}


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def label_added(issue: int, stamp: int, project: str = "BENCH") -> bytes:
    """A `jira:issue_updated` delivery adding the trigger label to <project>-<issue> (FACTS §8.1 shape)."""
    user = {"accountId": "712020:bench-user", "accountType": "atlassian", "displayName": "Bench User", "active": True}
    payload = {
        "timestamp": stamp,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_updated",
        "user": user,
        "issue": {
            "id": str(100000 + issue),
            "key": f"{project}-{issue}",
            "fields": {"summary": f"Bench issue {issue}", "labels": ["ai-orchestrate", "backend"]},
        },
        "changelog": {"id": str(stamp), "items": [LABELS_CHANGE]},
    }
    return json.dumps(payload).encode()


@dataclass
class Delivery:
    """One scheduled delivery."""

    issue: int
    delivery_id: str
    body: bytes
    kind: str


def schedule(total: int, issues: int) -> list[Delivery]:
    """Slot j goes to issue j % issues: first the delivery, then Jira's retry of it, then a new delivery."""
    kinds = ("first", "retry", "second")
    # Events of the last minute: the web ignores deliveries older than JIRA_WEBHOOK_MAX_AGE as replays (a fixed
    # date here made every delivery "ignored" once that date was two hours old).
    base = int(time.time() * 1000) - 60_000
    plan = []
    for slot in range(total):
        issue, round_ = slot % issues + 1, slot // issues
        kind = kinds[min(round_, 2)]
        ident = f"bench-{issue}-a" if kind in ("first", "retry") else f"bench-{issue}-{kind}-{round_}"
        stamp = base + issue * 10 + (0 if kind != "second" else round_)
        plan.append(Delivery(issue, ident, label_added(issue, stamp), kind))
    return plan


@dataclass
class Results:
    """What the driver saw."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    max_lag: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def request_bytes(delivery: Delivery, port: int) -> bytes:
    """The whole signed HTTP/1.1 request, built before the run so the driver does no work on the clock."""
    head = (
        f"POST /webhooks/jira HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature: {sign_jira_body(delivery.body, SECRET)}\r\n"
        f"X-Atlassian-Webhook-Identifier: {delivery.delivery_id}\r\nContent-Length: {len(delivery.body)}\r\n\r\n"
    )
    return head.encode() + delivery.body


def drive(port: int, plan: list[Delivery], rate: float, driver: str = "asyncio") -> Results:
    """Send each delivery at its slot (open loop, t0 + j/rate) from CONNECTIONS keep-alive connections."""
    if driver == "threads":
        return drive_threads(port, plan, rate)
    return asyncio.run(drive_asyncio(port, plan, rate))


async def drive_asyncio(port: int, plan: list[Delivery], rate: float) -> Results:
    """One event loop, CONNECTIONS connections: the driver's own CPU and GIL waits stay out of the latencies."""
    results, cursor = Results(), iter(range(len(plan)))
    requests = [request_bytes(delivery, port) for delivery in plan]
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for slot in cursor:
            due = start + slot / rate
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            lag = max(0.0, loop.time() - due)
            began = loop.time()
            try:
                writer.write(requests[slot])
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError) as err:
                results.errors.append(f"{plan[slot].kind}: {type(err).__name__}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            record(results, plan[slot], int(head.split(b" ", 2)[1]), body, loop.time() - began, lag)
        writer.close()

    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(CONNECTIONS))), timeout=len(plan) / rate + 60)
    return results


def record(results: Results, delivery: Delivery, status: int, body: bytes, elapsed: float, lag: float) -> None:
    """Keep one answer's latency and check it is the expected one."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {"reason": "not JSON"}
    expected = 200 if delivery.kind == "retry" else 202
    with results.lock:
        results.latencies.append(elapsed)
        results.by_kind.setdefault(delivery.kind, []).append(elapsed)
        results.statuses[f"{delivery.kind} {status} {answer.get('action') or answer.get('reason', '')}"] += 1
        results.max_lag = max(results.max_lag, lag)
        if status != expected:
            results.errors.append(f"{delivery.kind}: HTTP {status} {answer}")


def drive_threads(port: int, plan: list[Delivery], rate: float) -> Results:
    """The first driver, kept as the baseline: one thread per connection with http.client."""
    results, cursor, cursor_lock = Results(), [0], threading.Lock()
    start = time.monotonic() + 0.5

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with cursor_lock:
                slot = cursor[0]
                cursor[0] += 1
            if slot >= len(plan):
                break
            due = start + slot / rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            send(conn, plan[slot], results, max(0.0, time.monotonic() - due))
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=len(plan) / rate + 60)
    return results


def send(conn: http.client.HTTPConnection, delivery: Delivery, results: Results, lag: float) -> None:
    """POST one signed delivery and record its latency and answer."""
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": sign_jira_body(delivery.body, SECRET),
        "X-Atlassian-Webhook-Identifier": delivery.delivery_id,
    }
    began = time.perf_counter()
    try:
        conn.request("POST", "/webhooks/jira", body=delivery.body, headers=headers)
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as err:
        conn.close()  # reconnects on the next request
        with results.lock:
            results.errors.append(f"{delivery.kind}: {type(err).__name__}")
        return
    record(results, delivery, response.status, body, time.perf_counter() - began, lag)


class Processes:
    """The dev server and gunicorn, stopped (TERM, then KILL) whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        """Start a process in its own session, its output in <workdir>/<name>.log."""
        with (self.workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                argv, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running.append(process)

    def stop(self) -> None:
        """TERM every process group, then KILL what is still running after 20 s."""
        for process in reversed(self.running):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.running):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def wait_http(port: int, path: str, deadline: float) -> None:
    """Wait until GET path answers 200."""
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not become healthy on port {port}")


async def connect(address: str, deadline: float) -> Client:
    """Connect to the dev server once it is up."""
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def count_workflows(address: str, issues: int, deadline: float) -> Counter[str]:
    """Runs per BENCH workflow id on the bench task queue, once visibility has caught up (or the deadline)."""
    client = await connect(address, deadline)
    runs: Counter[str] = Counter()
    while time.monotonic() < deadline:
        runs = Counter()
        async for execution in client.list_workflows(f'TaskQueue = "{TASK_QUEUE}"'):
            if execution.id.startswith("orchestration-BENCH-"):
                runs[execution.id] += 1
        if len(runs) >= issues:
            break
        await asyncio.sleep(0.5)
    return runs


def machine() -> str:
    """CPU model, cores, memory and OS of this machine."""
    models = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    cpu = models[0].split(":", 1)[1].strip() if models else platform.processor()
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])  # the first line is MemTotal
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_kib // 1024 // 1024} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at `fraction` of an ascending list (nearest rank)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass(frozen=True)
class Run:
    """The run's parameters, for the report."""

    total: int
    issues: int
    rate: float
    seconds: float
    load_before: float
    driver: str


def report(results: Results, runs: Counter[str], run: Run) -> bool:
    """Print the figures (markdown); True when there were no errors and exactly one workflow per issue."""
    ms = sorted(x * 1000 for x in results.latencies) or [0.0]
    p99 = percentile(ms, 0.99)
    kinds = ", ".join(
        f"{kind} p50 {percentile(sorted(v), 0.5) * 1000:.1f} / p99 {percentile(sorted(v), 0.99) * 1000:.1f} ms"
        for kind, v in sorted(results.by_kind.items())
    )
    accepted_starts = sum(n for key, n in results.statuses.items() if " 202 start" in key)
    one_each = len(runs) == run.issues and set(runs.values()) == {1}
    first_error = f" (first: {results.errors[0]})" if results.errors else ""
    lines = [
        f"## Webhook ack latency ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"- machine: {machine()}; load average before the run: {run.load_before:.2f}",
        f"- load: {run.total} signed label-added deliveries at {run.rate:g}/s for {run.seconds:g} s over "
        f"{run.issues} issues, "
        f"{CONNECTIONS} keep-alive connections ({run.driver} driver); "
        "gunicorn (app.web.gunicorn_conf), SQLite, temporal dev server",
        f"- latency: p50 {percentile(ms, 0.5):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms "
        f"(driver lag max {results.max_lag * 1000:.1f} ms); by delivery: {kinds}",
        f"- errors: {len(results.errors)}{first_error}",
        f"- answers: {dict(sorted(results.statuses.items()))}",
        f"- workflows: {len(runs)} for {run.issues} issues from {accepted_starts} accepted start deliveries; "
        f"runs per workflow: {dict(Counter(runs.values()))}: {'exactly one per issue' if one_each else 'WRONG'}",
        f"- target p99 < 25 ms: {'met' if p99 < 25 else 'missed'}",
    ]
    print("\n".join(lines))
    return not results.errors and one_each and len(results.latencies) == run.total


def start_stack(procs: Processes, workdir: Path, deadline: float) -> tuple[str, int]:
    """The dev server and gunicorn on free loopback ports, healthy and warmed up: (Temporal address, web port)."""
    temporal_port, web_port = free_port(), free_port()
    address = f"127.0.0.1:{temporal_port}"
    dev_server = [
        *(str(BIN / "temporal"), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(temporal_port)),
        *("--http-port", str(free_port()), "--metrics-port", str(free_port()), "--headless", "--log-level", "error"),
    ]
    procs.start("temporal", dev_server, dict(os.environ))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
        "JIRA_WEBHOOK_SECRET": SECRET,
        "JIRA_BOT_ACCOUNT_ID": BOT,
        "ORCHESTRATOR_VAR_DIR": str(workdir),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    asyncio.run(connect(address, deadline))
    gunicorn = [str(BIN / "gunicorn"), "-c", "python:app.web.gunicorn_conf", "--bind", f"127.0.0.1:{web_port}"]
    procs.start("gunicorn", [*gunicorn, "app:create_app()"], env)
    wait_http(web_port, "/healthz", min(deadline, time.monotonic() + 60))
    # Each gunicorn worker connects its Temporal client on first use: warm both up outside the measurement.
    drive(web_port, [Delivery(0, f"warm-{i}", label_added(i + 1, i, "WARM"), "first") for i in range(20)], 50)
    return address, web_port


def main() -> int:
    """Run the benchmark; exit 1 on errors or a wrong workflow count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--driver", choices=("asyncio", "threads"), default="asyncio")
    args = parser.parse_args()
    total = int(args.rate * args.seconds)
    issues = max(1, total // 3)
    deadline = time.monotonic() + DEADLINE
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        procs = Processes(Path(tmp))
        try:
            address, web_port = start_stack(procs, Path(tmp), deadline)
            results = drive(web_port, schedule(total, issues), args.rate, args.driver)
            runs = asyncio.run(count_workflows(address, issues, min(deadline, time.monotonic() + 60)))
        finally:
            procs.stop()
    return 0 if report(results, runs, Run(total, issues, args.rate, args.seconds, load_before, args.driver)) else 1


if __name__ == "__main__":
    run_and_exit(main)  # no interpreter teardown: see app/cli/process_exit.py
