"""Which code path a run takes where a release changed what workflows do (a `workflow.patched` id).

A run started by this release or a later one says so in its input (`lean`) and takes every path patched before it,
without asking: Temporal records a marker and upserts the TemporalChangeVersion search attribute for each patch a
run asks about, and bills both. A run from before asks its history, as it always did, so it replays unchanged.
"""

from __future__ import annotations

from temporalio import workflow


def released(patch_id: str, lean: bool) -> bool:
    """True when this run takes `patch_id`'s path: every lean run does; any other run as its history says."""
    return lean or workflow.patched(patch_id)
