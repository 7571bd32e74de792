"""GET /metrics cost: the time one scrape takes on a database holding JOBS agent jobs (10,000 by default).

Fills a fresh migrated database (a temporary SQLite file, or the PostgreSQL URL given) with jobs in a production-like
mix (mostly ended, a few queued and running, six phases, ten projects), one orchestration per six jobs, as many
webhook deliveries as jobs, and twenty agents; then scrapes through the real Flask app SCRAPES times and reports the
median, p95 and max wall time of a request, and the exposition's size. Rows are bulk-inserted (the figures read only
counts and timestamps, so how a row was made does not matter here).

    python bench/metrics_scrape.py [--jobs 10000] [--scrapes 50] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from app.config import PHASES, Settings
from app.store.db import describe_url, make_engine
from app.store.migrate import upgrade
from app.store.models import Agent, AgentJob, Orchestration, WebhookDelivery
from app.web.factory import create_app

TOKEN = "bench-metrics-token"
STATUSES = ["completed"] * 85 + ["failed"] * 8 + ["cancelled"] * 4 + ["queued"] * 3
ERROR_KINDS = {"failed": "TESTS_FAILED", "cancelled": "CANCELLED"}
START = datetime(2025, 1, 1, tzinfo=UTC)


def fill(url: str, jobs: int) -> None:
    """Bulk-insert the rows (deterministic: a fixed random seed)."""
    rng = random.Random(7)
    agents = [f"10.0.{n // 250}.{n % 250 + 1}:50051" for n in range(20)]
    projects = [f"P{n}" for n in range(10)]
    job_rows, run_rows, delivery_rows = [], [], []
    for n in range(jobs):
        project, phase = projects[n % len(projects)], PHASES[n % len(PHASES)]
        status = "in_progress" if n < len(agents) else rng.choice(STATUSES)
        started = START + timedelta(minutes=n)
        ended = status in ("completed", "failed", "cancelled")
        job_rows.append(
            {
                "id": f"run-{n // 6}-{phase}-1",
                "orchestration_run_id": f"run-{n // 6}",
                "issue_key": f"{project}-{n // 6}",
                "project_key": project,
                "phase": phase,
                "command": phase,
                "queue_kind": "rework" if n % 9 == 0 else "backlog",
                "order_in_queue": n if status == "queued" else None,
                "status": status,
                "agent_id": agents[n % len(agents)] if status != "queued" else None,
                "error_kind": ERROR_KINDS.get(status),
                "recoveries": 1 if n % 50 == 0 else 0,
                "started_at": started if status != "queued" else None,
                "finished_at": started + timedelta(seconds=rng.expovariate(1 / 600)) if ended else None,
            }
        )
        delivery_rows.append({"delivery_id": f"d-{n}", "webhook_event": "jira:issue_updated", "outcome": "dispatched"})
        if n % 6 == 0:
            run_rows.append(
                {
                    "issue_key": f"{project}-{n // 6}",
                    "project_key": project,
                    "temporal_workflow_id": f"orchestration-{project}-{n // 6}",
                    "temporal_run_id": f"run-{n // 6}",
                    "status": rng.choice(["completed", "completed", "failed", "running"]),
                }
            )
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(AgentJob), job_rows)
        connection.execute(insert(Orchestration), run_rows)
        connection.execute(insert(WebhookDelivery), delivery_rows)
        connection.execute(insert(Agent), [{"id": a, "address": a, "last_seen_at": START} for a in agents])
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--database-url", help="an EMPTY database to fill (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        fill(url, args.jobs)
        env = {"DATABASE_URL": url, "ORCHESTRATOR_METRICS_TOKEN": TOKEN, "JIRA_BOT_ACCOUNT_ID": "bench"}
        env["ORCHESTRATOR_VAR_DIR"] = tmp
        app = create_app(Settings.from_env(environ=env, env_file=None))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        client.get("/metrics", headers=headers)  # warm up: connection pool, statement cache
        times, size = [], 0
        for _ in range(args.scrapes):
            began = time.perf_counter()
            response = client.get("/metrics", headers=headers)
            times.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text
            size = len(response.data)
        app.extensions["db_engine"].dispose()
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    print(f"database {describe_url(url).split('://')[0]}, {args.jobs} jobs, {args.scrapes} scrapes")
    print(
        f"scrape: median {statistics.median(times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms,"
        f" max {times[-1] * 1000:.1f} ms; exposition {size} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
