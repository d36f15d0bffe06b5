from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import uvloop

from llmkube.gateway.routes import Route, Upstream
from tests.unit.gateway.fake_upstream import FakeUpstream


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every gateway test runs on asyncio's own loop and on uvloop, which the gateway runs on where it is
    installed: their transports differ in ways a protocol can trip on (uvloop's are not asyncio.Transport)."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    """A stand-in llama-server on loopback for one test."""
    async with FakeUpstream() as server:
        yield server


def route(
    *,
    name: str = "chat",
    namespace: str = "team-a",
    ready: int = 1,
    loading: int = 0,
    replicas: int | None = None,
    slots: int = 2,
    phase: str = "Ready",
    idle_seconds: int | None = None,
    last_request: float | None = None,
    resource_version: str = "1",
) -> Route:
    return Route(
        namespace=namespace,
        name=name,
        phase=phase,
        replicas=ready + loading if replicas is None else replicas,
        slots=slots,
        ready=tuple(Upstream(host=f"10.0.0.{i + 1}", port=8080) for i in range(ready)),
        loading=loading,
        idle_seconds=idle_seconds,
        last_request=last_request,
        resource_version=resource_version,
        created="2026-01-01T00:00:00Z",
    )


def isvc(name: str = "chat", *, namespace: str = "team-a", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "7"},
        "spec": {"modelRef": {"name": "m"}, **spec},
    }


def endpoint_slice(
    *endpoints: tuple[str, bool | None], port: int = 8080, exact: str | None = None, terminating: bool = False
) -> dict[str, Any]:
    annotations = {"inference.llmkube.dev/address": exact} if exact else {}
    return {
        "metadata": {"name": "chat-abc", "namespace": "team-a", "annotations": annotations},
        "ports": [{"name": "http", "port": port}],
        "endpoints": [
            {
                "addresses": [address],
                "conditions": {} if ready is None else {"ready": ready, "terminating": terminating},
            }
            for address, ready in endpoints
        ],
    }
