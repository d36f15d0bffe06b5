"""The small HTTP servers an observed cluster needs, on 127.0.0.1: model sources and a DCGM exporter stand-in.

Model sources give the download Jobs the three outcomes the Model dashboard and alerts are about: a real file
that downloads and verifies (`/<file>.gguf`), one that does not exist (`/missing.gguf`, 404), and one that
trickles forever (`/trickle.gguf`: a multi-gigabyte Content-Length, a few KiB at a time), so a download stays in
progress for as long as the scene runs.

There is no GPU here, so the DCGM exporter is a recorded exposition (dcgm-exporter.prom, written by hand in the
exporter's format from its documented default counters: one node with four H100s, three of them held by
serving pods) served at `/metrics`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import anyio
from aiohttp import web
from anyio.abc import TaskStatus

from hack.demo import free_port

DCGM_EXPOSITION = Path(__file__).resolve().parent / "dcgm-exporter.prom"

#: What the trickling source claims to hold: about the size of an 8B model at Q4_K_M.
TRICKLE_BYTES = 4_920_000_000
TRICKLE_CHUNK = 64 << 10
TRICKLE_PAUSE_S = 0.25


async def _trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200, headers={"Content-Length": str(TRICKLE_BYTES), "Content-Type": "application/octet-stream"}
    )
    await response.prepare(request)
    chunk = bytes(TRICKLE_CHUNK)
    # The download ends when the fetcher is stopped; the closed connection is the end of this response too.
    with contextlib.suppress(ConnectionResetError):
        # A GGUF header first, so the fetcher's check of the file's first bytes passes; zeros after it.
        await response.write(b"GGUF" + bytes(TRICKLE_CHUNK - 4))
        while True:
            await anyio.sleep(TRICKLE_PAUSE_S)
            await response.write(chunk)
    return response


async def serve(*, model_file: Path, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serves model sources and the DCGM exposition until cancelled; `started` with the base URL."""

    async def model(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(model_file)

    async def dcgm(_request: web.Request) -> web.Response:
        return web.Response(text=DCGM_EXPOSITION.read_text(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get(f"/{model_file.name}", model)
    app.router.add_get("/trickle.gguf", _trickle)
    app.router.add_get("/metrics", dcgm)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        task_status.started(f"http://127.0.0.1:{port}")
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
