"""Runs the sandbox Jira: the Flask app on a threaded WSGI server, plus the webhook sender thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.config import SANDBOX_FORGE_REPOSITORY, Settings
from app.sandbox import forge, forge_page, http, page, rest_issues, rest_site
from app.sandbox.faults import Faults
from app.sandbox.forge_git import Remote
from app.sandbox.outbox import DeliveryPolicy, WebhookSender
from app.sandbox.store import StateFile
from app.sandbox.tracker import Tracker
from app.sandbox.traffic import Traffic

log = logging.getLogger(__name__)

STATE_FILE = "sandbox-jira.json"


@dataclass(frozen=True)
class SandboxConfig:
    """Where the sandbox keeps its state, listens, and sends webhooks."""

    state_path: Path
    host: str
    port: int
    delivery: DeliveryPolicy
    # A comment also raises `jira:issue_updated` (issue_commented), as on a site subscribed to both events.
    comment_twins: bool = True
    # The sandbox forge: the bare remote the demo agent pushes to, and the repository name it is served as.
    forge_remote: Path = Path("var/agent/demo-remote.git")
    forge_repository: str = SANDBOX_FORGE_REPOSITORY

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        """The sandbox for this service's settings: state under var/, webhooks to our own endpoint."""
        url = settings.jira.sandbox_webhook_url or f"http://127.0.0.1:{settings.web_port}/webhooks/jira"
        return cls(
            state_path=settings.var_dir / STATE_FILE,
            host="127.0.0.1",  # loopback only: the sandbox's page and admin endpoints have no login
            port=settings.jira.sandbox_port,
            delivery=DeliveryPolicy(
                url=url, secret=settings.jira.webhook_secret, threads=min(settings.jira.sandbox_webhook_threads, 64)
            ),
            forge_remote=Path(settings.agents.remote),
            forge_repository=settings.forge.repository or SANDBOX_FORGE_REPOSITORY,
        )


def create_sandbox_app(
    tracker: Tracker, faults: Faults, webhook_url: str, forge_site: forge.ForgeSite, traffic: Traffic | None = None
) -> Flask:
    """The sandbox's WSGI app: REST v2 subset, the HTML page, the admin endpoints and the forge."""
    app = Flask(__name__)
    app.extensions["sandbox"] = http.Sandbox(tracker, faults, webhook_url, traffic or Traffic())
    app.extensions["sandbox_forge"] = forge_site
    http.install(app)
    app.register_blueprint(rest_issues.bp)
    app.register_blueprint(rest_site.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(forge.bp)
    app.register_blueprint(forge_page.bp)
    return app


class SandboxServer:
    """A running sandbox (used by `orchestrator sandbox serve` and by tests, on a port of their choice)."""

    def __init__(self, config: SandboxConfig, faults: Faults | None = None) -> None:
        # One line per request is noise next to the other processes' logs; errors still show.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.config = config
        self.faults = faults or Faults()
        self.store = StateFile(config.state_path)
        self.url = f"http://{config.host}:{config.port}"
        self.tracker = Tracker(self.store, self.url, config.comment_twins)
        self.sender = WebhookSender(self.store, self.faults, config.delivery)
        self.traffic = Traffic()
        site = forge.ForgeSite(self.store, Remote(config.forge_remote), config.forge_repository, self.url)
        app = create_sandbox_app(self.tracker, self.faults, config.delivery.url, site, self.traffic)
        self.server: BaseWSGIServer = make_server(config.host, config.port, app, threaded=True)
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Serve on a background thread and start delivering webhooks."""
        self.sender.start()
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted."""
        self.sender.start()
        log.info("sandbox.started url=%s webhooks=%s", self.url, self.config.delivery.url)
        try:
            self.server.serve_forever()
        finally:
            self.sender.stop()

    def stop(self) -> None:
        """Stop serving and delivering (pending webhooks stay in the state file)."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sender.stop()
