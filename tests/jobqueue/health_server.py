"""A real gRPC server with the standard health service on loopback: an agent as the health check sees it."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.conftest import free_port


class HealthServer:
    """Serves `grpc.health.v1` on a free loopback port (or the given one, to come back where it was)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.servicer = health.HealthServicer()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, self.server)
        self.server.add_insecure_port(self.address)
        self.server.start()
        self.servicer.set("", health_pb2.HealthCheckResponse.SERVING)

    def stop(self) -> None:
        """Stop serving (calls fail with UNAVAILABLE)."""
        self.server.stop(0).wait(5)
