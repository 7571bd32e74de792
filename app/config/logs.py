"""Process-wide logging set-up: one line per event, level from LOG_LEVEL."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    """Configure the root logger once per process."""
    root = logging.getLogger()
    if getattr(root, "_orchestrator_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root._orchestrator_configured = True  # type: ignore[attr-defined]
