"""What the chaos scenarios read back from the sandbox Jira: each issue's bot comments, links, moves, write bursts."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from typing import Any

from app.sandbox.people import SandboxPerson
from tests.e2e.harness import Stack

BOT = "sandbox-bot"
TRIGGER = "ai-orchestrate"
GATE = "Waiting for approval to proceed"
STATUS_HEADING = "h3. 🤖 AI orchestration"
SUMMARY_MARK = "🎉"
# Jira Cloud's per-issue write limit: 20 writes in any 2 s (and 100 in 30 s); ../shared/jira/FACTS.md.
BURST_WINDOW_S = 2.0
BURST_LIMIT = 20


@dataclass(frozen=True)
class Outcome:
    """How one run ended, as the issue shows it."""

    key: str
    status: str
    status_comments: int
    gate_comments: int
    summaries: int
    duplicate_comments: int
    links: int
    moves: list[tuple[str, str]]

    @property
    def duplicate_moves(self) -> int:
        """Status transitions made more than once."""
        return sum(n - 1 for n in Counter(self.moves).values() if n > 1)


def bot_comments(stack: Stack, key: str) -> list[str]:
    """The bot's comments on `key`, oldest first."""
    comments: list[dict[str, Any]] = []
    while True:
        page = stack.rest(f"issue/{key}/comment?startAt={len(comments)}&maxResults=100")
        comments += page["comments"]
        if not page["comments"] or len(comments) >= page["total"]:
            return [c["body"] for c in comments if c["author"]["accountId"] == BOT]


def outcome(stack: Stack, key: str) -> Outcome:
    """Read the run's end off the issue."""
    comments = bot_comments(stack, key)
    fields = stack.rest(f"issue/{key}?expand=changelog&fields=status")
    history = fields["changelog"]["histories"]
    moves = [(i["fromString"], i["toString"]) for h in history for i in h["items"] if i["field"] == "status"]
    return Outcome(
        key=key,
        status=fields["fields"]["status"]["name"],
        status_comments=sum(c.startswith(STATUS_HEADING) for c in comments),
        gate_comments=sum(GATE in c for c in comments),
        summaries=sum(c.startswith(SUMMARY_MARK) for c in comments),
        duplicate_comments=sum(n - 1 for n in Counter(comments).values() if n > 1),
        links=len(stack.rest(f"issue/{key}/remotelink")),
        moves=moves,
    )


class GateDriver:
    """Approves each gate once, as soon as its comment is on the issue (a reviewer keeping up with the runs)."""

    def __init__(self, stack: Stack, keys: list[str], reviewer: str = "reviewer") -> None:
        self.stack = stack
        self.person = SandboxPerson(stack.jira_url, reviewer)
        self.approved = dict.fromkeys(keys, 0)

    def step(self) -> None:
        """Approve every gate shown and not yet approved."""
        for key, done in self.approved.items():
            gates = sum(GATE in c for c in bot_comments(self.stack, key))
            if gates > done:
                self.person.comment(key, "/approve")
                self.approved[key] = gates


def requests_since(stack: Stack, since: float) -> list[dict[str, Any]]:
    """The sandbox's request log since `since` (epoch seconds)."""
    with urllib.request.urlopen(f"{stack.jira_url}/sandbox/requests?since={since}", timeout=30) as answer:  # noqa: S310
        requests: list[dict[str, Any]] = json.loads(answer.read())["requests"]
        return requests


def bot_writes(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bot's writes that reached Jira (answered, including refusals: Jira counts them against the limit)."""
    return [r for r in requests if r["account"] == BOT and r["method"] in {"POST", "PUT", "DELETE"}]


def max_burst(requests: list[dict[str, Any]]) -> int:
    """The most bot writes to one issue within any BURST_WINDOW_S."""
    by_issue: dict[str, list[float]] = defaultdict(list)
    for r in bot_writes(requests):
        if r["issue"]:
            by_issue[r["issue"]].append(r["at"])
    worst = 0
    for times in by_issue.values():
        window: deque[float] = deque()
        for at in sorted(times):
            window.append(at)
            while at - window[0] > BURST_WINDOW_S:
                window.popleft()
            worst = max(worst, len(window))
    return worst


def now() -> float:
    """Epoch seconds, the sandbox's request-log clock."""
    return time.time()


def plan_fault(stack: Stack, **fault: Any) -> None:
    """Plan a sandbox fault (see app/sandbox/faults.py)."""
    request = urllib.request.Request(  # noqa: S310 - the loopback sandbox
        f"{stack.jira_url}/sandbox/faults", json.dumps(fault).encode(), {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


def clear_faults(stack: Stack) -> None:
    """Forget every planned sandbox fault."""
    request = urllib.request.Request(f"{stack.jira_url}/sandbox/faults", method="DELETE")  # noqa: S310
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


def shortest_wait_after(requests: list[dict[str, Any]], status: int) -> float | None:
    """The shortest time from a bot write answered `status` to the bot's next write to the same issue."""
    writes = sorted((r for r in bot_writes(requests) if r["issue"]), key=lambda r: r["at"])
    shortest: float | None = None
    for n, refused in enumerate(writes):
        if refused["status"] != status:
            continue
        later = next((r for r in writes[n + 1 :] if r["issue"] == refused["issue"]), None)
        if later is not None:
            gap = later["at"] - refused["at"]
            shortest = gap if shortest is None else min(shortest, gap)
    return shortest


def finished(stack: Stack, key: str) -> bool:
    """Whether the run on `key` has said all it says at its end: Done, the summary, and Completed on its status
    comment (the outbox writes them in order, but which comes last depends on where a retry fell)."""
    comments = bot_comments(stack, key)
    if (
        not comments
        or "*Status:* Completed" not in comments[0]
        or not any(c.startswith(SUMMARY_MARK) for c in comments)
    ):
        return False
    return bool(stack.rest(f"issue/{key}?fields=status")["fields"]["status"]["name"] == "Done")
