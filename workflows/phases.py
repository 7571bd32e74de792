"""The six phases: their agent roles (from the seed), the output each hands on, and whether they push the branch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhaseSpec:
    """What one phase asks of the agents."""

    name: str
    roles: tuple[str, ...]
    goal: str
    pushes_branch: bool = False
    verifies: bool = False
    # The agent's output that is the phase's work: shown at its gate and handed to every later phase. Every
    # shipped profile names its outputs so (tests/agent/test_profiles.py); "report" is a custom profile's default.
    output: str = "report"


PHASE_SPECS: dict[str, PhaseSpec] = {
    spec.name: spec
    for spec in (
        PhaseSpec(
            "EXPLORE",
            ("triage-agent", "requirements-analyzer"),
            "Explore the issue and the repository.",
            output="findings",
        ),
        PhaseSpec("PLAN", ("planner", "architect", "task-enricher"), "Plan the implementation.", output="plan"),
        PhaseSpec(
            "CODE",
            ("code-implementer", "commit-tracker"),
            "Implement the plan and commit.",
            pushes_branch=True,
            verifies=True,
            output="commits",
        ),
        PhaseSpec("TEST", ("test-runner", "coverage-analyzer"), "Run the tests and report.", output="test_report"),
        PhaseSpec(
            "FIX",
            ("bug-fixer", "code-reviewer"),
            "Fix what the tests found.",
            pushes_branch=True,
            verifies=True,
            output="commits",
        ),
        PhaseSpec(
            "DOCUMENT",
            ("docs-writer", "confluence-manager"),
            "Document the change.",
            pushes_branch=True,
            output="changelog",
        ),
    )
}

PHASE_ORDER: tuple[str, ...] = tuple(PHASE_SPECS)

# TEST fails -> FIX -> TEST again, at most this many FIX rounds; then the run fails.
MAX_FIX_ROUNDS = 3
