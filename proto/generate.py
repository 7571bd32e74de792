"""Regenerate the Python stubs of proto/agent/v1/agent.proto into app/agent_client/proto (or under another root).

Usage: python proto/generate.py [OUTPUT_ROOT]   (needs grpcio-tools, a test extra; the stubs are committed and
tests/agent/test_proto_stubs.py checks they match the .proto byte for byte)
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto" / "agent" / "v1" / "agent.proto"
# The .proto is mapped to the virtual path of the package that holds the stubs, so the generated gRPC module
# imports `from app.agent_client.proto import agent_pb2` (an absolute import that works from anywhere).
PACKAGE_PATH = "app/agent_client/proto"
OUTPUTS = ("agent_pb2.py", "agent_pb2.pyi", "agent_pb2_grpc.py")


def generate(output_root: Path) -> list[Path]:
    """Run protoc (bundled with grpcio-tools) and return the files it wrote."""
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "protoc",
        f"-I{PACKAGE_PATH}={PROTO.parent}",
        f"-I{well_known}",
        f"--python_out={output_root}",
        f"--pyi_out={output_root}",
        f"--grpc_python_out={output_root}",
        str(PROTO),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return [output_root / PACKAGE_PATH / name for name in OUTPUTS]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(target):
        print(path)
