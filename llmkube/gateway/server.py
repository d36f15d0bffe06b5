"""The OpenAI API's HTTP server as a runnable the manager starts and stops.

Handler cancellation is on: when a client disconnects, aiohttp cancels its handler, which closes the upstream
connection, which is how an abandoned request stops occupying a llama-server slot. On shutdown the listener closes
first and requests in flight get `drain_seconds` to finish before they are cancelled.
"""

from __future__ import annotations

import anyio
import structlog
from aiohttp import web
from anyio.abc import TaskStatus

log = structlog.get_logger(__name__)


class ApiServer:
    def __init__(self, app: web.Application, *, host: str, port: int, drain_seconds: float = 25.0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._drain_seconds = drain_seconds
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0); only valid once started."""
        if self._bound_port is None:
            raise RuntimeError("gateway server not started")
        return self._bound_port

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        runner = web.AppRunner(
            self._app, access_log=None, handler_cancellation=True, shutdown_timeout=self._drain_seconds
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
            addresses = runner.addresses
            self._bound_port = int(addresses[0][1]) if addresses else self._port
            log.info("serving the OpenAI API", host=self._host, port=self._bound_port)
            task_status.started()
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await runner.cleanup()
