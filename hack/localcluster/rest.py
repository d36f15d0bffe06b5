"""A small synchronous client for the few API calls the launcher makes itself.

The launcher runs before any event loop exists (a session fixture, the `up` command), and it needs only a
handful of verbs: health checks, creating the node and volume inventory, reading /metrics. The standard
library's HTTPS client with the admin client certificate covers that without dragging an async client into
synchronous code.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from hack.localcluster.certs import KeyPair


class ApiError(RuntimeError):
    def __init__(self, *, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:500]}")
        self.status = status


@attrs.frozen(kw_only=True)
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define(kw_only=True)
class RestClient:
    server: str
    ca: Path | None
    client: KeyPair | None
    timeout_seconds: float = 10.0

    def request(
        self, method: str, path: str, *, body: object = None, content_type: str = "application/json"
    ) -> Response:
        url = urlsplit(self.server)
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            connection = http.client.HTTPSConnection(
                url.hostname or "127.0.0.1", url.port, timeout=self.timeout_seconds, context=self._tls()
            )
        else:
            connection = http.client.HTTPConnection(
                url.hostname or "127.0.0.1", url.port, timeout=self.timeout_seconds
            )
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json, */*"}
        if payload is not None:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=payload, headers=headers)
            reply = connection.getresponse()
            return Response(status=reply.status, body=reply.read())
        finally:
            connection.close()

    def call(
        self, method: str, path: str, *, body: object = None, content_type: str = "application/json"
    ) -> Any:
        """Like request(), but raises ApiError on anything outside 2xx and decodes the JSON body."""
        response = self.request(method, path, body=body, content_type=content_type)
        if not 200 <= response.status < 300:
            raise ApiError(
                method=method, path=path, status=response.status, body=response.body.decode(errors="replace")
            )
        return response.json() if response.body else None

    def create(self, collection_path: str, manifest: dict[str, Any]) -> None:
        """Creates an object; one that already exists (from an earlier, reused start) is left alone."""
        response = self.request("POST", collection_path, body=manifest)
        if response.status == http.HTTPStatus.CONFLICT or 200 <= response.status < 300:
            return
        raise ApiError(
            method="POST",
            path=collection_path,
            status=response.status,
            body=response.body.decode(errors="replace"),
        )

    def _tls(self) -> ssl.SSLContext:
        if self.ca is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=str(self.ca))
        if self.client is not None:
            context.load_cert_chain(str(self.client.cert), str(self.client.key))
        return context


def wait_until(
    condition: Callable[[], bool],
    *,
    what: str,
    timeout_seconds: float,
    check: Callable[[], None] = lambda: None,
    interval_seconds: float = 0.1,
) -> None:
    """Polls `condition` (connection errors count as "not yet"); `check` may raise to abort early."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        check()
        try:
            if condition():
                return
        except (OSError, http.client.HTTPException, ApiError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_seconds:.0f}s waiting for {what}")
        time.sleep(interval_seconds)


def is_ok(client: RestClient, path: str) -> bool:
    return client.request("GET", path).status == http.HTTPStatus.OK
