"""The reconciliation sweep's forge step: merges whose webhook never reached us, told on their issues late.

A forge's webhook can be lost (the web was down, the hook was misconfigured, the forge gave up retrying). Each sweep
asks the forge for pull requests of issue branches merged within RECONCILE_LOOKBACK and starts, for each, the same
workflow the webhook starts (workflows/pull_request_closed.py), under the same id: a merge the webhook already told
starts nothing, and a merge is told once however many sweeps find it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from app.forge import Forge, ForgeError
from app.forge.models import HEAD_PREFIX
from workflows.ids import is_issue_key


@dataclass(frozen=True)
class MergeQuery:
    """Look for merges within the worker's RECONCILE_LOOKBACK (no parameters: it comes from settings)."""


@dataclass(frozen=True)
class MergedPull:
    """A merged pull request of the issue's branch jira/<KEY>."""

    issue_key: str
    number: int
    url: str


# Starts the merge's workflow, as the forge webhook does (app/worker/registry.py); False: it was already told.
TellMerge = Callable[[MergedPull], Awaitable[bool]]


class MergeSweepActivities:
    """Finds merged pull requests (the forge) and tells their issues (a Temporal start, deduplicated by id)."""

    def __init__(self, forge: Forge | None, lookback: timedelta, tell: TellMerge) -> None:
        self.forge = forge
        self.lookback = lookback
        self.tell = tell

    @activity.defn
    async def start_missed_merges(self, _query: MergeQuery) -> list[str]:
        """Start the merged-pull-request workflow of every merge found; the ones started now, as `KEY #N`."""
        if self.forge is None:
            return []
        since = datetime.now(UTC) - self.lookback
        try:
            merged = await asyncio.to_thread(self.forge.merged_since, since)
        except ForgeError as err:
            # The next sweep asks again; a refused token is for the operator to fix, said in the sweep's failure.
            raise ApplicationError(str(err), type=type(err).__name__) from None
        started = []
        for pull in merged:
            key = pull.head.removeprefix(HEAD_PREFIX).upper()
            if not is_issue_key(key):
                continue  # a branch named jira/<something else>: not one of ours
            if await self.tell(MergedPull(key, pull.number, pull.url)):
                started.append(f"{key} #{pull.number}")
        if started:
            activity.logger.warning("reconcile.merges-told %s (merged while no forge webhook reached us)", started)
        return started
