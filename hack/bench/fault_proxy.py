"""A fault-injecting proxy in front of kube-apiserver (loopback only), for the chaos benchmark.

The controllers under test connect to this proxy instead of the API server. It terminates TLS with the API
server's own serving certificate (so the controllers verify it against the cluster CA as usual), forwards each
request over a fresh TLS connection as the cluster admin, and streams the answer back chunk by chunk, so watches
stay open through it. Being an HTTP proxy rather than a byte pipe is what lets it answer a request with a 429 or
a 500 the way an overloaded API server or an aggregated layer in front of it would.

Faults, each switched on for a window by the benchmark's schedule:
- `freeze_watches`: open watch streams stop receiving events (the connection stays open and silent), the
  half-open stream a lost NAT entry or a wedged load balancer leaves behind;
- `errors`: a share of requests answered 429 (with Retry-After) or 500 with a Status body, without reaching
  the API server;
- `resets`: a share of requests, and every watch open when the window starts, end with the TCP connection
  aborted (RST) mid-answer.
"""

from __future__ import annotations

import json
import random
import ssl
import time
from collections import Counter
from pathlib import Path

import aiohttp
import anyio
from aiohttp import web

from hack.localcluster.certs import KeyPair

#: Headers that describe one hop of HTTP, not the message: never copied across the proxy.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)


def _status_body(code: int, reason: str, message: str) -> str:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    )


class FaultProxy:
    """Forwards to `upstream` and injects the faults switched on; counts what it injected."""

    def __init__(self, *, upstream: str, ca: Path, serving: KeyPair, admin: KeyPair, seed: int) -> None:
        self._upstream = upstream.rstrip("/")
        self._server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_tls.load_cert_chain(serving.cert, serving.key)
        self._client_tls = ssl.create_default_context(cafile=str(ca))
        self._client_tls.load_cert_chain(admin.cert, admin.key)
        self._random = random.Random(seed)
        #: While now < this monotonic time, watch streams relay nothing.
        self._frozen_until = 0.0
        self._errors_until = 0.0
        self._resets_until = 0.0
        #: Bumped when a reset window opens: every watch started under an older epoch is aborted.
        self._reset_epoch = 0
        self.share = 0.3
        self.injected: Counter[str] = Counter()
        self.url = ""
        self._session: aiohttp.ClientSession | None = None

    # -- the schedule's switches ---------------------------------------------------------------------------

    def freeze_watches(self, seconds: float) -> None:
        self._frozen_until = time.monotonic() + seconds
        self.injected["watch streams frozen"] += 1

    def inject_errors(self, seconds: float) -> None:
        self._errors_until = time.monotonic() + seconds

    def inject_resets(self, seconds: float) -> None:
        self._resets_until = time.monotonic() + seconds
        self._reset_epoch += 1

    # -- serving ---------------------------------------------------------------------------------------------

    async def serve(self, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        connector = aiohttp.TCPConnector(ssl=self._client_tls, force_close=True)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as session:
            self._session = session
            app = web.Application(client_max_size=64 * 2**20)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._server_tls)
            await site.start()
            port = runner.addresses[0][1]
            self.url = f"https://127.0.0.1:{port}"
            try:
                task_status.started(self.url)
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await runner.cleanup()

    def _roll(self) -> bool:
        return self._random.random() < self.share

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        watch = request.query.get("watch") in ("true", "1")
        if now < self._errors_until and self._roll():
            code, reason = (429, "TooManyRequests") if self._random.random() < 0.5 else (500, "InternalError")
            self.injected[f"HTTP {code}"] += 1
            headers = {"Retry-After": "1"} if code == 429 else {}
            return web.Response(
                status=code,
                text=_status_body(code, reason, f"injected by the chaos proxy ({code})"),
                content_type="application/json",
                headers=headers,
            )
        if now < self._resets_until and self._roll():
            self.injected["connection resets"] += 1
            self._abort(request)
            return web.Response(status=502)  # never sent: the connection is gone
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        epoch = self._reset_epoch
        try:
            async with self._session.request(
                request.method, self._upstream + request.path_qs, headers=headers, data=body or None
            ) as upstream:
                response = web.StreamResponse(
                    status=upstream.status,
                    headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP},
                )
                await response.prepare(request)
                while True:
                    chunk: bytes | None = None
                    with anyio.move_on_after(0.5):
                        chunk = await upstream.content.readany()
                    if watch and self._reset_epoch != epoch:
                        self.injected["watch streams reset"] += 1
                        self._abort(request)
                        return response
                    if chunk is None:
                        continue  # a quiet watch: look at the reset epoch again
                    if not chunk:
                        break
                    if watch and time.monotonic() < self._frozen_until:
                        await anyio.sleep(self._frozen_until - time.monotonic())
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, OSError):
            # The API server went away (a restart) or cut the stream: so does the proxy, as a load balancer
            # in front of it would.
            self._abort(request)
            return web.Response(status=502)

    @staticmethod
    def _abort(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.abort()
