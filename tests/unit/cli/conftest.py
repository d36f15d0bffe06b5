from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from aiohttp import web

from tests.unit.cli.fake_apiserver import http_server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[[Handler], contextlib.AbstractAsyncContextManager[str]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A throwaway OpenAI-style server on a loopback port, answering /v1/chat/completions with `handler`."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def serve() -> Serve:
    return serving


class OneAnswer(BaseHTTPRequestHandler):
    """An OpenAI-style server that streams the same two-word answer to every chat request."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        chunk = {"model": "m", "choices": [{"index": 0, "delta": {"content": "Hello there"}}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def answering_server() -> Iterator[str]:
    with http_server(OneAnswer) as url:
        yield url
