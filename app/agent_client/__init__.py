"""The worker's side of the gRPC agent protocol: stubs, protocol constants, the client, auth and credentials."""
