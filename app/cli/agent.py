"""The `orchestrator agent` command: the reference gRPC agent (Procfile process `agent`)."""

from __future__ import annotations

import argparse
from typing import Any

from app.config import Settings


def register(subparsers: Any) -> None:
    """Add the agent sub-command."""
    p = subparsers.add_parser("agent", help="run the reference gRPC agent (profile AGENT_PROFILE, default demo)")
    p.set_defaults(handler=agent)


def agent(_args: argparse.Namespace) -> int:
    """Serve the agent protocol until SIGTERM/SIGINT."""
    from app.agent_server.server import serve
    from app.agent_server.workspace import WorkspaceError
    from app.config.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    try:
        serve(settings)
    except (WorkspaceError, OSError) as err:
        print(f"orchestrator agent: {err}")
        return 1
    return 0
