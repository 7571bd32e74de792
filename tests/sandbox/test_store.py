"""The sandbox's state file: every change is on disk when `change()` returns, and concurrent changes share writes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from app.sandbox.store import StateFile


def on_disk(path: Path) -> dict[str, object]:
    """The state as the file holds it."""
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def test_a_change_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    with store.change() as state:
        state["counters"]["probe"] = 1
    assert on_disk(store.path)["counters"]["probe"] == 1  # type: ignore[index]


def test_a_change_that_raises_midway_is_still_written(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")

    def half_done() -> None:
        with store.change() as state:
            state["counters"]["half"] = 1
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError):
        half_done()
    assert on_disk(store.path)["counters"]["half"] == 1  # type: ignore[index]


def test_a_change_inside_a_read_is_written_when_the_read_ends(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    with store.read(), store.change() as state:
        state["counters"]["nested"] = 1
    assert on_disk(store.path)["counters"]["nested"] == 1  # type: ignore[index]


def test_concurrent_changes_share_writes_and_none_is_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateFile(tmp_path / "state.json")
    writes = []
    real_write = store._write

    def counted(text: str) -> None:
        writes.append(len(text))
        real_write(text)

    monkeypatch.setattr(store, "_write", counted)
    done: list[int] = []

    def changer(n: int) -> None:
        for i in range(25):
            with store.change() as state:
                state["counters"][f"t{n}-{i}"] = i
            # Returned: this change is on disk (read back without the lock, as a restart would).
            assert on_disk(store.path)["counters"][f"t{n}-{i}"] == i  # type: ignore[index]
        done.append(n)

    threads = [threading.Thread(target=changer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(done) == list(range(8))
    counters = on_disk(store.path)["counters"]
    assert all(f"t{n}-{i}" in counters for n in range(8) for i in range(25))  # type: ignore[operator]
    # Changes made while a write is under way share the next one (one write per change before: 200 here).
    assert len(writes) < 200
