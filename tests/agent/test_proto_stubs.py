"""The committed stubs in app/agent_client/proto are exactly what grpcio-tools makes of proto/agent/v1/agent.proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    generated = sorted((tmp_path / "app" / "agent_client" / "proto").iterdir())
    assert [p.name for p in generated] == ["agent_pb2.py", "agent_pb2.pyi", "agent_pb2_grpc.py"]
    for path in generated:
        committed = ROOT / "app" / "agent_client" / "proto" / path.name
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is out of date: run `python proto/generate.py` and commit the result"
        )
