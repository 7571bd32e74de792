"""Jira Orchestrator: the composition root (config, database, Temporal gateway, web app, worker, CLI)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from app.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app (imported lazily so the worker and CLI do not load Flask)."""
    from app.web.factory import create_app as build

    return build(settings)
