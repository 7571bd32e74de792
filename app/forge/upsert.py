"""The one rule both providers follow to keep one pull request per head branch, whatever retried or crashed.

Look first; create only when there is none (or only a merged one: its work is history, new work needs a new
pull request); when the forge says one already exists (a create whose answer was lost, or a racing worker), look
again and update that one. So a retry, a worker killed after its create landed, or a re-run never opens a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from app.forge.errors import AlreadyExists
from app.forge.models import Opened, PullRequest

P = TypeVar("P")  # the provider's own pull request object


def open_or_update(
    find: Callable[[], P | None],
    create: Callable[[], PullRequest],
    update: Callable[[P], PullRequest],
    merged: Callable[[P], bool],
) -> Opened:
    """Update the head branch's open (or closed) pull request, or create one."""
    existing = find()
    if existing is None or merged(existing):
        try:
            return Opened(create(), True)
        except AlreadyExists:
            existing = find()
            if existing is None:
                raise
    return Opened(update(existing), False)
