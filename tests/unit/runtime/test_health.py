"""The probe server: aggregate and single checks, verbose bodies, and Prometheus text on /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import anyio
from prometheus_client import CollectorRegistry, Counter

from controller.runtime.health import HealthServer


@asynccontextmanager
async def serving(registry: CollectorRegistry) -> AsyncIterator[HealthServer]:
    # A context manager, not a fixture: a task group must be left in the task that entered it.
    health = HealthServer(host="127.0.0.1", port=0, registry=registry)
    async with anyio.create_task_group() as tg:
        await tg.start(health.run)
        yield health
        tg.cancel_scope.cancel()


async def fetch(server: HealthServer, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.port}{path}") as resp,
    ):
        return resp.status, await resp.text()


async def test_ready_when_every_check_passes(registry: CollectorRegistry) -> None:
    async with serving(registry) as server:
        server.add_readiness_check("informers", lambda: None)
        assert await fetch(server, "/readyz") == (200, "ok")


async def test_not_ready_lists_the_failing_check_and_its_reason(registry: CollectorRegistry) -> None:
    async with serving(registry) as server:
        server.add_readiness_check("informers", lambda: "caches not synced: configmaps@*")
        status, body = await fetch(server, "/readyz")
        assert status == 500
        assert "[-]informers failed: caches not synced: configmaps@*" in body
        assert "[+]ping ok" in body


async def test_excluded_check_is_skipped(registry: CollectorRegistry) -> None:
    async with serving(registry) as server:
        server.add_readiness_check("informers", lambda: "down")
        assert (await fetch(server, "/readyz?exclude=informers"))[0] == 200


async def test_single_check_endpoint(registry: CollectorRegistry) -> None:
    async with serving(registry) as server:
        server.add_liveness_check("loop", lambda: "stuck")
        assert (await fetch(server, "/healthz/loop"))[0] == 500
        assert (await fetch(server, "/healthz/ping"))[0] == 200


async def test_a_raising_check_counts_as_failed(registry: CollectorRegistry) -> None:
    async with serving(registry) as server:

        def broken() -> str | None:
            raise RuntimeError("bug")

        server.add_readiness_check("broken", broken)
        status, body = await fetch(server, "/readyz")
        assert status == 500
        assert "RuntimeError" in body


async def test_metrics_serves_the_injected_registry(registry: CollectorRegistry) -> None:
    async with serving(registry) as server:
        Counter("llmkube_test_total", "a test counter", registry=registry).inc()
        status, body = await fetch(server, "/metrics")
        assert status == 200
        assert "llmkube_test_total 1.0" in body
