"""Webhook answers while 50 live-log viewers are open and following a job that writes lines.

Starts gunicorn with our config (one gthread worker: WEB_THREADS=4 for requests, plus WEB_MAX_STREAMS threads for
streams, 50 by default) on a temporary, migrated SQLite database, with FEATURE_TEMPORAL_ENABLED=false so a delivery
is answered by the web process alone (200 "disabled"): what is measured is whether a thread is free to answer, and
how much the viewers slow it, not Temporal. It sends DELIVERIES webhooks one after another at RATE/s, first with no
viewer, then while VIEWERS viewers each follow the job's stream (one refused with 503 tries again after 2 s, as
EventSource does) and a writer stores LINES log lines a second for that job, as the worker's dispatch activity does.
Reports p50/p99/max per phase, streams held and refused, and log lines the viewers received; exits non-zero if a
webhook failed or more streams were open than the cap.

    python bench/live_viewers.py [--viewers 50] [--streams 50] [--lines 20] [--deliveries 200] [--rate 20]
                                 [--transport sse|ws]

`--transport ws` holds the viewers on the WebSocket route (/ws/jobs/<id>/logs) instead of SSE: same cap.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from app.store.migrate import upgrade

BIN = Path(sys.executable).parent
TOKEN = "bench-viewer-token"
JOB = "bench-CODE-1"
STREAM = f"/api/jobs/{JOB}/logs/stream?timeout=120"
SOCKET = f"/ws/jobs/{JOB}/logs"
BODY = b'{"webhookEvent": "jira:issue_created", "timestamp": 1}'


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_web(tmp: Path, port: int, streams: int) -> subprocess.Popen[bytes]:
    """gunicorn with our config, one worker, on `port`; returns once /healthz answers."""
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "JIRA_", "DATABASE_", "WEB_"))}
    env.update(
        DATABASE_URL=url,
        ORCHESTRATOR_VAR_DIR=str(tmp / "var"),
        ORCHESTRATOR_API_TOKEN=TOKEN,
        FEATURE_TEMPORAL_ENABLED="false",
        WEB_PORT=str(port),
        WEB_WORKERS="1",
        WEB_THREADS="4",
        WEB_MAX_STREAMS=str(streams),
        SANDBOX_JIRA_PORT=str(free_port()),
        LOG_LEVEL="WARNING",
    )
    gunicorn = [str(BIN / "gunicorn"), "-c", "python:app.web.gunicorn_conf", "app:create_app()"]
    log = (tmp / "web.log").open("wb")
    proc = subprocess.Popen(gunicorn, cwd=tmp, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def deliver(base: str, count: int, rate: float) -> tuple[list[float], int]:
    """Send `count` webhooks at `rate`/s, one at a time; their latencies (s) and how many were not answered 200."""
    latencies, failed = [], 0
    with requests.Session() as session:
        for _ in range(count):
            due = time.monotonic() + 1 / rate
            start = time.perf_counter()
            try:
                answer = session.post(f"{base}/webhooks/jira", data=BODY, timeout=10)
                failed += answer.status_code != 200
            except requests.RequestException:
                failed += 1
            latencies.append(time.perf_counter() - start)
            time.sleep(max(0.0, due - time.monotonic()))
    return latencies, failed


def viewer(base: str, stop: threading.Event, counts: dict[str, int], lock: threading.Lock) -> None:
    """Hold a stream when let in; when refused, try again after 2 s, as EventSource does."""
    while not stop.is_set():
        try:
            with requests.get(
                base + STREAM, headers={"Authorization": f"Bearer {TOKEN}"}, stream=True, timeout=(5, 30)
            ) as r:
                with lock:
                    counts["held" if r.status_code == 200 else "refused"] += 1
                    counts["open"] += r.status_code == 200
                    counts["max_open"] = max(counts["max_open"], counts["open"])
                if r.status_code == 200:
                    for line in r.iter_lines():
                        if line.startswith(b"event: log"):
                            with lock:
                                counts["lines"] += 1
                        if stop.is_set():
                            break
                    with lock:
                        counts["open"] -= 1
                    return
        except requests.RequestException:
            with lock:
                counts["errors"] += 1
        stop.wait(2)


def socket_viewer(base: str, stop: threading.Event, counts: dict[str, int], lock: threading.Lock) -> None:
    """The same over WebSocket: hold the connection when let in; when refused (503), try again after 2 s."""
    import simple_websocket

    while not stop.is_set():
        try:
            ws = simple_websocket.Client.connect(
                base.replace("http://", "ws://") + SOCKET, headers={"Authorization": f"Bearer {TOKEN}"}
            )
        except simple_websocket.ConnectionError as refused:
            with lock:
                counts["refused" if refused.status_code == 503 else "errors"] += 1
            stop.wait(2)
            continue
        with lock:
            counts["held"] += 1
            counts["open"] += 1
            counts["max_open"] = max(counts["max_open"], counts["open"])
        while not stop.is_set():
            message = ws.receive(timeout=1)
            if message is not None and '"type": "log"' in str(message):
                with lock:
                    counts["lines"] += 1
        with lock:
            counts["open"] -= 1
        ws.sock.close()
        return


def writer(url: str, per_second: float, stop: threading.Event) -> int:
    """Store `per_second` log lines a second for the followed job until `stop`; how many were stored."""
    from sqlalchemy import insert

    from app.store.db import make_engine
    from app.store.models import JobLog

    engine = make_engine(url)
    seq = 0
    try:
        while not stop.wait(1 / per_second):
            seq += 1
            with engine.begin() as connection:
                row = {"job_id": JOB, "seq": seq, "level": "info", "stage": "CODE", "message": f"line {seq}"}
                connection.execute(insert(JobLog).values(**row))
    finally:
        engine.dispose()
    return seq


def summary(name: str, latencies: list[float], failed: int) -> str:
    """p50/p99/max in milliseconds."""
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return (
        f"{name:<16} n={len(ordered)} failed={failed} p50={pick(0.5):.1f}ms p99={pick(0.99):.1f}ms max={pick(1):.1f}ms"
    )


def main() -> int:
    """Run both phases and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--streams", type=int, default=50, help="WEB_MAX_STREAMS of the one web worker")
    parser.add_argument("--lines", type=float, default=20, help="log lines stored per second while viewers follow")
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--transport", choices=("sse", "ws"), default="sse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_web(Path(tmp), port, args.streams)
        base = f"http://127.0.0.1:{port}"
        stop, lock = threading.Event(), threading.Lock()
        counts = {"held": 0, "refused": 0, "open": 0, "max_open": 0, "errors": 0, "lines": 0}
        stored: list[int] = []
        lines = threading.Thread(
            target=lambda: stored.append(writer(f"sqlite:///{Path(tmp) / 'bench.db'}", args.lines, stop))
        )
        try:
            quiet, quiet_failed = deliver(base, args.deliveries, args.rate)
            follow = socket_viewer if args.transport == "ws" else viewer
            threads = [threading.Thread(target=follow, args=(base, stop, counts, lock)) for _ in range(args.viewers)]
            for thread in threads:
                thread.start()
            lines.start()
            time.sleep(3)  # every viewer has tried once
            busy, busy_failed = deliver(base, args.deliveries, args.rate)
        finally:
            stop.set()
            for thread in (lines, *threads):
                if thread.ident is not None:  # started
                    thread.join(10)
            os.killpg(proc.pid, signal.SIGKILL)  # streams still open: no graceful wait
            proc.wait(10)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(summary("no viewers", quiet, quiet_failed))
    print(summary(f"{args.viewers} viewers ({args.transport})", busy, busy_failed))
    print(f"streams held {counts['held']} (at most {counts['max_open']} at once, cap {args.streams}), refused "
          f"{counts['refused']}, errors {counts['errors']}; log lines stored {sum(stored)}, received by the viewers "
          f"{counts['lines']}")  # fmt: skip
    return 1 if quiet_failed or busy_failed or counts["max_open"] > args.streams else 0


if __name__ == "__main__":
    sys.exit(main())
