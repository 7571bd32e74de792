"""The raw Temporal baseline of bench/full_run.py: the same number of activities and child workflows as one
orchestration run, each doing nothing, on the same dev server. No I/O, no database, no Jira, no agent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass(frozen=True)
class Shape:
    """One run's shape: activities in the parent, its phases (one job after another), the child workflows of each
    phase (a job and the queue monitor that starts it run side by side), and activities in each child."""

    parent_activities: int
    phases: int
    children: int
    child_activities: int


@activity.defn
async def nothing() -> None:
    """An activity that does nothing."""


@workflow.defn
class RawChild:
    """A child that runs its activities one after another."""

    @workflow.run
    async def run(self, activities: int) -> None:
        """Run `activities` no-op activities."""
        for _ in range(activities):
            await workflow.execute_activity(nothing, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class RawRun:
    """A parent that runs its phases one after another, as an orchestration does: in each, its share of the
    parent's activities one at a time, then the phase's children side by side."""

    @workflow.run
    async def run(self, shape: Shape) -> None:
        """Spread the parent's activities and the children over the phases."""
        phases = max(1, shape.phases)
        activities, children = shape.parent_activities, shape.children
        for phase in range(phases):
            for _ in range(activities // phases + (phase < activities % phases)):
                await workflow.execute_activity(nothing, start_to_close_timeout=timedelta(seconds=30))
            count = children // phases + (phase < children % phases)
            prefix = f"{workflow.info().workflow_id}-{phase}"
            await asyncio.gather(
                *(workflow.execute_child_workflow(RawChild.run, shape.child_activities, id=f"{prefix}-{n}")
                  for n in range(count))
            )  # fmt: skip
