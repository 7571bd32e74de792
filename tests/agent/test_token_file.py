"""The shared agent token file: the worker and the agent create it together and both read one whole token."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from app.agent_client.auth import TOKEN_FILE, agent_token
from tests.conftest import make_settings


def _read_token(var_dir: str, start: Any, out: Any) -> None:
    settings = make_settings(Path(var_dir).parent, ORCHESTRATOR_VAR_DIR=var_dir, AGENT_TOKEN="")
    start.wait()  # all at once, as when `make run` starts the worker and the agent
    try:
        out.put(agent_token(settings))
    except RuntimeError as err:
        out.put(f"error: {err}")


def test_processes_starting_together_all_read_the_same_whole_token(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(5):
        var_dir = tmp_path / f"round-{round_}" / "var"
        start, out = context.Event(), context.Queue()
        procs = [context.Process(target=_read_token, args=(str(var_dir), start, out)) for _ in range(8)]
        for proc in procs:
            proc.start()
        start.set()
        tokens = [out.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        assert len(set(tokens)) == 1 and not tokens[0].startswith("error"), tokens
        assert (var_dir / TOKEN_FILE).read_text().strip() == tokens[0]
        assert sorted(p.name for p in var_dir.iterdir()) == [TOKEN_FILE]  # no drafts left behind
        assert (var_dir / TOKEN_FILE).stat().st_mode & 0o777 == 0o600
