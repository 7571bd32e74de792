"""A file-backed Temporal dev server of the chaos suite's own, which a scenario may stop and start again."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import BIN, free_port
from tests.e2e.harness import listening
from workflows import search


class FileBackedServer:
    """`temporal server start-dev` on a SQLite file: what it holds survives a stop and start on the same port."""

    def __init__(self, directory: Path) -> None:
        self.db = directory / "temporal.db"
        self.log = directory / "temporal.log"
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, attempts: int = 3) -> None:
        """Start (or start again) on the same file and port, and return once it serves. Its HTTP and metrics ports
        are picked afresh each time, and another process may take one between the pick and the bind: then the
        server exits at once, and it is started again with other ones."""
        for _ in range(attempts):
            self._launch()
            deadline = time.monotonic() + 60
            while self.proc is not None and self.proc.poll() is None and time.monotonic() < deadline:
                if self.serving():
                    return
                time.sleep(0.2)
            self.stop()
        raise RuntimeError(f"the Temporal dev server did not start; see {self.log}")

    def _launch(self) -> None:
        attributes = [arg for key in search.ALL for arg in ("--search-attribute", f"{key.name}=Keyword")]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "temporal"), "server", "start-dev", "--db-filename", str(self.db), "--ip", "127.0.0.1",
                 "--port", str(self.port), "--http-port", str(free_port()), "--metrics-port", str(free_port()),
                 "--headless", "--log-level", "error", *attributes],
                stdout=log, stderr=log,
            )  # fmt: skip

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM), waiting until it is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def serving(self) -> bool:
        """Whether its frontend accepts connections."""
        return listening(self.address)
