"""Generated protobuf and gRPC stubs of proto/agent/v1/agent.proto (do not edit; see proto/generate.py)."""
