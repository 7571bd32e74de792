"""The six phases: their agent roles (from the seed), the agent command, and whether they push the branch."""

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


PHASE_SPECS: dict[str, PhaseSpec] = {
    spec.name: spec
    for spec in (
        PhaseSpec("EXPLORE", ("triage-agent", "requirements-analyzer"), "Explore the issue and the repository."),
        PhaseSpec("PLAN", ("planner", "architect", "task-enricher"), "Plan the implementation."),
        PhaseSpec(
            "CODE",
            ("code-implementer", "commit-tracker"),
            "Implement the plan and commit.",
            pushes_branch=True,
            verifies=True,
        ),
        PhaseSpec("TEST", ("test-runner", "coverage-analyzer"), "Run the tests and report."),
        PhaseSpec(
            "FIX", ("bug-fixer", "code-reviewer"), "Fix what the tests found.", pushes_branch=True, verifies=True
        ),
        PhaseSpec("DOCUMENT", ("docs-writer", "confluence-manager"), "Document the change.", pushes_branch=True),
    )
}

PHASE_ORDER: tuple[str, ...] = tuple(PHASE_SPECS)

# TEST fails -> FIX -> TEST again, at most this many FIX rounds; then the run fails.
MAX_FIX_ROUNDS = 3
