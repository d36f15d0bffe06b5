"""A stand-in Hugging Face Hub for `catalog verify`: answers HEAD on /{repo}/resolve/main/{file} the way the hub
does (a redirect carrying X-Linked-Size for a stored file, 404 for a missing one, 401 for a gated repository),
on a loopback port the test starts and stops. The real hub is never contacted from tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests.unit.cli.fake_apiserver import http_server


@contextmanager
def hub(*, files: dict[str, int], gated: frozenset[str] = frozenset()) -> Iterator[str]:
    """`files` maps "repo/filename" to its size in bytes."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            repo_and_file = self.path.lstrip("/").replace("/resolve/main/", "/", 1)
            repo = "/".join(repo_and_file.split("/")[:2])
            if repo in gated:
                self.send_response(401)
            elif repo_and_file in files:
                self.send_response(302)
                self.send_header("Location", f"https://cas-bridge.example/{repo_and_file}")
                self.send_header("X-Linked-Size", str(files[repo_and_file]))
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http_server(Handler) as url:
        yield url
