"""The askpass helper git asks for the username and token: it prints them from its environment, so no secret is
ever written to disk."""

from __future__ import annotations

from pathlib import Path

SCRIPT = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$AGENT_GIT_USERNAME" ;;
  *) printf '%s\\n' "$AGENT_GIT_TOKEN" ;;
esac
"""


def ensure_askpass(root: Path) -> Path:
    """The helper in `root`, (re)written when missing or changed: a job's command could have replaced it, and the
    next git call that holds the token would run it."""
    path = root / ".askpass.sh"
    root.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_file() or path.read_text() != SCRIPT:
        path.unlink(missing_ok=True)
        path.write_text(SCRIPT)
    path.chmod(0o700)
    return path
