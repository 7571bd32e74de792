"""The reference gRPC agent: server, service, job registry, runner, execution, hand-over, workspace and profiles."""
