"""An HTTP server for one directory, on an address the cluster's pods can reach, that remembers who asked.

The model source of the e2e: bound to the real node's address (a bridge the local cluster creates), never to the
machine's external interface. It records each request's client address and path, so a test can tell that the
file was fetched by a pod and not by something on the host.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs


@attrs.define
class ServedDirectory:
    """Where the directory is served and the (client address, path) of every GET so far."""

    url: str
    requests: list[tuple[str, str]] = attrs.field(factory=list)


@contextmanager
def serve_directory(directory: Path, *, address: str) -> Iterator[ServedDirectory]:
    served = ServedDirectory(url="")

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append((self.client_address[0], self.path))
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the requests list is the record."""

    server = ThreadingHTTPServer((address, 0), partial(Handler, directory=str(directory)))
    served.url = f"http://{address}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="e2e-file-server", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
