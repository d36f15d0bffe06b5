"""The ServiceMonitor cache answers "pending" until it can answer for every namespace it watches.

A reconciler that deletes a leftover DCGM monitor trusts an empty answer from this cache; an answer given before
the CRD was looked at, or while one namespace's cache is still filling, would leave the monitor behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from controller.kube import ObjectList, Resource, WatchEvent
from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS
from controller.reconcilers.inferenceservice.crd_gated import (
    ABSENT,
    PENDING,
    READY,
    SERVICE_MONITOR_CRD,
    CrdGatedCache,
)
from controller.runtime.informer import Informer


def crd(*, established: bool) -> dict[str, Any]:
    status = "True" if established else "False"
    return {
        "metadata": {"name": SERVICE_MONITOR_CRD, "resourceVersion": "1"},
        "status": {"conditions": [{"type": "Established", "status": status}]},
    }


class GatedSource:
    """Answers each namespace's LIST only once the test opens that namespace's gate; watches stay idle."""

    def __init__(self, crds: list[dict[str, Any]]) -> None:
        self._crds = crds
        self.gates: dict[str | None, anyio.Event] = {}

    async def list(self, resource: Resource, *, namespace: str | None = None, **_: Any) -> ObjectList:
        if resource != CUSTOM_RESOURCE_DEFINITIONS:
            await self.gates.setdefault(namespace, anyio.Event()).wait()
            return ObjectList(items=[], resource_version="1")
        return ObjectList(items=list(self._crds), resource_version="1")

    @asynccontextmanager
    async def watch(self, resource: Resource, **_: Any) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        yield self._idle()

    async def _idle(self) -> AsyncIterator[WatchEvent]:
        await anyio.sleep_forever()
        yield WatchEvent(type="BOOKMARK", object={})  # pragma: no cover - never reached


def cache_for(source: GatedSource, namespaces: list[str | None]) -> tuple[Informer, CrdGatedCache]:
    crds = Informer(source, CUSTOM_RESOURCE_DEFINITIONS)  # type: ignore[arg-type]
    cache = CrdGatedCache(
        source,  # type: ignore[arg-type]
        crds=crds,
        namespaces=namespaces,
        label_selector="app.kubernetes.io/managed-by=llmkube",
        indexers={},
    )
    return crds, cache


async def settle() -> None:
    for _ in range(50):
        await anyio.lowlevel.checkpoint()


async def test_state_is_pending_until_the_crd_cache_has_been_looked_at_then_absent_without_the_crd() -> None:
    source = GatedSource([])
    crds, cache = cache_for(source, ["apps"])
    assert cache.state == PENDING
    async with anyio.create_task_group() as tg:
        await tg.start(crds.run)
        await tg.start(cache.run)
        await crds.wait_synced()
        await settle()
        assert cache.state == ABSENT
        tg.cancel_scope.cancel()


async def test_state_is_pending_while_any_namespace_cache_is_filling() -> None:
    source = GatedSource([crd(established=True)])
    crds, cache = cache_for(source, ["apps", "gpu-operator"])
    async with anyio.create_task_group() as tg:
        await tg.start(crds.run)
        await tg.start(cache.run)
        await settle()
        assert cache.state == PENDING
        source.gates.setdefault("apps", anyio.Event()).set()
        await settle()
        assert cache.state == PENDING, "one namespace synced is not the cache synced"
        source.gates.setdefault("gpu-operator", anyio.Event()).set()
        await settle()
        assert cache.state == READY
        tg.cancel_scope.cancel()


async def test_a_crd_that_is_not_established_yet_reads_absent_until_it_is() -> None:
    source = GatedSource([crd(established=False)])
    crds, cache = cache_for(source, ["apps"])
    async with anyio.create_task_group() as tg:
        await tg.start(crds.run)
        await tg.start(cache.run)
        await settle()
        assert cache.state == ABSENT
        tg.cancel_scope.cancel()
