"""The probe and metrics endpoint: /healthz, /readyz and /metrics on one aiohttp server.

It starts before the caches and runs on every replica, leader or not: Prometheus scrapes standbys too, and a
standby must report Ready, or a rolling update would wait forever for it. Checks are named functions returning
`None` when fine or a reason when not; the body lists each (`[+]informers ok`, `[-]informers failed: ...`)
like controller-runtime's, and `/readyz/<name>` runs one check alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import structlog
from aiohttp import web
from anyio.abc import TaskStatus
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

Check = Callable[[], str | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = structlog.get_logger(__name__)


class HealthServer:
    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 8080, registry: CollectorRegistry = REGISTRY
    ) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._liveness: dict[str, Check] = {"ping": lambda: None}
        self._readiness: dict[str, Check] = {"ping": lambda: None}
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0); only valid once started."""
        if self._bound_port is None:
            raise RuntimeError("health server not started")
        return self._bound_port

    def add_liveness_check(self, name: str, check: Check) -> None:
        self._liveness[name] = check

    def add_readiness_check(self, name: str, check: Check) -> None:
        self._readiness[name] = check

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._aggregate(self._liveness))
        app.router.add_get("/healthz/{check}", self._single(self._liveness))
        app.router.add_get("/readyz", self._aggregate(self._readiness))
        app.router.add_get("/readyz/{check}", self._single(self._readiness))
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
            log.info("serving probes and metrics", host=self._host, port=self._bound_port)
            task_status.started()
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await runner.cleanup()

    def _aggregate(self, checks: dict[str, Check]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            excluded = set(request.query.getall("exclude", []))
            results = [(name, _run(check)) for name, check in checks.items() if name not in excluded]
            failed = [name for name, reason in results if reason is not None]
            if not failed and "verbose" not in request.query:
                return web.Response(text="ok")
            lines = [f"[-]{name} failed: {reason}" if reason else f"[+]{name} ok" for name, reason in results]
            path = request.path.strip("/")
            lines.append(f"{path} check failed" if failed else f"{path} check passed")
            return web.Response(status=500 if failed else 200, text="\n".join(lines) + "\n")

        return handler

    def _single(self, checks: dict[str, Check]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            check = checks.get(request.match_info["check"])
            if check is None:
                raise web.HTTPNotFound(text=f"no check named {request.match_info['check']!r}\n")
            reason = _run(check)
            if reason is None:
                return web.Response(text="ok")
            return web.Response(status=500, text=f"[-]{request.match_info['check']} failed: {reason}\n")

        return handler

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _run(check: Check) -> str | None:
    try:
        return check()
    except Exception as err:
        return f"check raised {err!r}"
