"""The `jira.JIRA` client, built once with a timeout on every call and no retries of its own.

`JiraTransport.call` sends JSON on the client's session (so auth, the REST v2 URL scheme and error parsing stay
the package's) for the endpoints the package does not wrap or wraps expensively: comment properties, comment
creation with `properties`, comment edits without the reload GET, remote links without the applinks probe,
`permissions/check` and `search/jql`; `JiraTransport.upload` sends attachments (multipart) the same way.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from jira import JIRA
from jira.exceptions import JIRAError
from requests.adapters import HTTPAdapter

from app.config import JiraSettings
from app.jira_gateway.errors import JiraUnavailable, classify

CONNECT_TIMEOUT = 10.0


def build_client(settings: JiraSettings, read_timeout: float | None = None, connections: int = 10) -> JIRA:
    """A REST v2 client for the configured site (or the sandbox) with basic auth and a timeout on every call,
    keeping up to `connections` open (one per thread that calls it at once).

    The one place a `jira.JIRA` is built (the gateway, `/myself` for the bot's identity, `orchestrator check`).
    """
    read_timeout = read_timeout or settings.timeout.total_seconds()
    client = JIRA(
        server=settings.url,
        basic_auth=settings.credentials,
        options={"rest_api_version": "2"},
        # (connect, read): the package's default is None, which lets a call hang forever.
        timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout),
        # tenacity (retry.py) is the only retry layer: the package's own retries POSTs blindly and sleeps
        # less than Retry-After asks for.
        max_retries=0,
        get_server_info=False,
    )
    # requests keeps 10 connections per host by default: a worker's 32 activity threads calling Jira at once
    # opened and dropped connections ("Connection pool is full") under load.
    adapter = HTTPAdapter(pool_maxsize=max(connections, 1), max_retries=0)
    for scheme in ("https://", "http://"):
        client._session.mount(scheme, adapter)
    return client


class JiraTransport:
    """One JSON request to `/rest/api/2/<path>` through the `jira` client's session, errors classified."""

    def __init__(self, client: JIRA) -> None:
        self.client = client

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Send the request; return the decoded JSON answer (None for an empty one)."""
        data = None if body is None else json.dumps(body)
        return self._send(method, path, params=params, data=data)

    def upload(self, path: str, filename: str, data: bytes, mime_type: str) -> Any:
        """POST one file as multipart field `file` (Jira requires `X-Atlassian-Token: no-check` on uploads)."""
        # The session's JSON Content-Type is dropped (None) so requests sets the multipart boundary itself.
        headers = {"X-Atlassian-Token": "no-check", "Content-Type": None}
        return self._send("POST", path, files={"file": (filename, data, mime_type)}, headers=headers)

    def _send(self, method: str, path: str, **request: Any) -> Any:
        what = f"{method} {path}"
        try:
            response = self.client._session.request(method, self.client._get_url(path), **request)
        except (JIRAError, requests.RequestException) as err:
            # `from None`: a JIRAError's text includes the request headers, i.e. the basic-auth token.
            raise classify(err, what) from None
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            status = response.status_code
            raise JiraUnavailable(f"{what}: Jira answered {status} with a body that is not JSON") from None

    def get(self, path: str, **params: Any) -> Any:
        """GET with query parameters."""
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body."""
        return self.call("POST", path, body=body)

    def put(self, path: str, body: Any, **params: Any) -> Any:
        """PUT a JSON body."""
        return self.call("PUT", path, params=params or None, body=body)
