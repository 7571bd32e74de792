"""A local chat-webhook receiver (Slack's incoming-webhook shape) for the notification tests, shared by the activity,
workflow and end-to-end tests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Where the receiver listens: an incoming webhook's path is its token, as Slack's are.
PATH = "/services/T0001/B0002/s3cr3t-webhook-token"


@dataclass
class Answer:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class Listener:
    """A local webhook receiver: records every request, answers from a script (then 200), or hangs when told."""

    def __init__(self, path: str = PATH) -> None:
        self.requests: list[Received] = []
        self.script: list[Answer] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                # Recorded before answering, so the client sees the count once it has its answer.
                listener.requests.append(Received(self.path, dict(self.headers), body))
                if listener.hang.is_set():
                    listener.release.wait(10)
                    return
                answer = listener.script.pop(0) if listener.script else Answer()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def events(self) -> list[str]:
        """The text of every notification received, in order."""
        return [str(r.body.get("text", "")) for r in self.requests]

    def distinct_events(self) -> list[str]:
        """The text of each notification once per Idempotency-Key, in order: what a receiver honouring the key shows
        (a sender killed between a send and its record sends it again under the same key)."""
        seen: dict[str, str] = {}
        for r in self.requests:
            seen.setdefault(r.headers.get("Idempotency-Key", str(len(seen))), str(r.body.get("text", "")))
        return list(seen.values())
