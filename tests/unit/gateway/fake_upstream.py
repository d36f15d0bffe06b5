"""A stand-in for llama-server in the proxy tests: answers chat completions whole or as a stream it releases
chunk by chunk on the test's command, and records what arrived and which requests were cancelled."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import attrs
from aiohttp import web
from aiohttp.test_utils import TestServer


@attrs.define
class Seen:
    path: str
    body: bytes
    headers: dict[str, str]


class FakeUpstream:
    def __init__(self, name: str = "chat") -> None:
        self.name = name
        self.seen: list[Seen] = []
        #: Each stream waits for one release per chunk after the first.
        self.release = asyncio.Queue[None]()
        #: Set while a request is being answered; cleared when its handler ends, however it ends.
        self.active = 0
        self.cancelled = 0
        #: While set, every request waits here before answering (to fill slots and queues).
        self.hold: anyio.Event | None = None
        #: When set, requests without `Authorization: Bearer <required_key>` get 401, as from llama-server.
        self.required_key: str | None = None
        self._server = TestServer(self._app(), host="127.0.0.1")

    @property
    def port(self) -> int:
        port = self._server.port
        assert port is not None
        return port

    async def __aenter__(self) -> FakeUpstream:
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/{tail:.*}", self._answer)
        return app

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(path=request.path, body=body, headers=dict(request.headers)))
        if (
            self.required_key is not None
            and request.headers.get("Authorization") != f"Bearer {self.required_key}"
        ):
            error = {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
            return web.json_response({"error": error}, status=401)
        self.active += 1
        try:
            if self.hold is not None:
                await self.hold.wait()
            payload: dict[str, Any] = json.loads(body)
            if not payload.get("stream"):
                return web.json_response({"model": self.name, "object": "chat.completion", "choices": []})
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for i in range(3):
                if i:
                    await self.release.get()
                await response.write(f"data: {json.dumps({'model': self.name, 'n': i})}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            return response
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.active -= 1
