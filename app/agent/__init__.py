"""The agent side of the gRPC agent protocol (proto/agent/v1/agent.proto) and the reference agent server."""
