"""A loopback stand-in for the API server's `GET /api/v1/namespaces/a`, and a kubeconfig that points at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import yaml
from aiohttp import web


@asynccontextmanager
async def namespace_server(seen: list[web.Request]) -> AsyncIterator[int]:
    """Serve namespace `a` on a free loopback port (yielded), recording each request in `seen`."""

    async def namespace(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/a", namespace)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "current-context": "t",
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
                "clusters": [{"name": "t", "cluster": {"server": server}}],
                "users": [{"name": "t", "user": {"token": "x"}}],
            }
        )
    )
    return path
