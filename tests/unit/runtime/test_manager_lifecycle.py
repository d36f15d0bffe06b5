"""Manager start-up and shutdown order, without a cluster: controllers stop before caches, failures unwrap."""

from __future__ import annotations

from typing import cast

import anyio
import pytest
from anyio.abc import TaskStatus
from prometheus_client import CollectorRegistry

from controller.kube import KubeClient
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.manager import CacheSyncTimeout, Manager, ManagerOptions
from controller.runtime.reflector import ReflectorMetrics
from tests.unit.runtime.fake_source import FakeSource


class Stage:
    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.journal.append(f"start {self.name}")
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self.journal.append(f"stop {self.name}")


def manager(client: object, registry: CollectorRegistry, *, cache_sync_timeout: float = 120.0) -> Manager:
    opts = ManagerOptions(health_port=0, handle_signals=False, cache_sync_timeout=cache_sync_timeout)
    return Manager(cast(KubeClient, client), options=opts, registry=registry)


async def test_stops_controllers_before_caches_and_caches_before_probes(registry: CollectorRegistry) -> None:
    journal: list[str] = []
    mgr = manager(object(), registry)
    mgr.add(Stage("controller", journal))
    mgr.add(Stage("cache-side", journal), needs_leader=False)
    async with anyio.create_task_group() as tg:
        await tg.start(mgr.run)
        mgr.stop()
    assert journal == ["start cache-side", "start controller", "stop controller", "stop cache-side"]


async def test_cache_sync_timeout_surfaces_unwrapped_and_names_the_resource(
    registry: CollectorRegistry,
) -> None:
    source = FakeSource(lists=[], watches=[])  # the LIST never answers
    mgr = manager(source, registry, cache_sync_timeout=0.2)
    mgr.informer(CONFIG_MAPS, metrics=ReflectorMetrics(registry))
    with pytest.raises(CacheSyncTimeout, match="configmaps"):
        await mgr.run()
