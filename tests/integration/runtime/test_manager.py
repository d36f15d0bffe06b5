"""The manager on a real apiserver: probes and metrics, leader-only controllers, ordered shutdown."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anyio
import pytest
from anyio.abc import TaskStatus
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from controller.kube import KubeClient, Resource
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.controller import Controller
from controller.runtime.informer import Informer
from controller.runtime.leaderelection import LeaderElectionConfig
from controller.runtime.manager import CacheSyncTimeout, Manager, ManagerOptions
from controller.runtime.reflector import ReflectorMetrics
from controller.runtime.request import Request, Result
from tests.integration.runtime.conftest import eventually

pytestmark = pytest.mark.cluster


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


def options(**overrides: object) -> ManagerOptions:
    return ManagerOptions(health_port=0, handle_signals=False, **overrides)  # type: ignore[arg-type]


class RecordingController:
    """Stands in for a controller: notes when it runs and what the cache looked like when it was stopped."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.running = False
        self.cache_was_live_at_stop: bool | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.running = True
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self.running = False
            self.cache_was_live_at_stop = self.informer.reflector.connected


async def test_ready_and_serving_metrics_once_caches_synced(
    kube: KubeClient, namespace: str, registry: CollectorRegistry
) -> None:
    manager = Manager(kube, options=options(), registry=registry)
    informer = manager.informer(CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
    controller = RecordingController(informer)
    manager.add(controller)
    async with anyio.create_task_group() as tg:
        await tg.start(manager.run)
        assert controller.running
        assert await get(manager.health.port, "/readyz") == (200, "ok")
        assert (await get(manager.health.port, "/healthz"))[0] == 200
        await kube.create(CONFIG_MAPS, {"metadata": {"name": "m", "namespace": namespace}})
        await eventually(lambda: f"{namespace}/m" in informer.store)
        status, metrics = await get(manager.health.port, "/metrics")
        assert status == 200
        assert f'informer_events_total{{resource="configmaps@{namespace}",type="ADDED"}}' in metrics
        manager.stop()
    assert controller.cache_was_live_at_stop is True


class HoldingReconciler:
    """Reconciles at once, except the object named `held`, whose reconcile waits until `release` is set."""

    def __init__(self) -> None:
        self.holding = False
        self.release = anyio.Event()

    async def reconcile(self, request: Request) -> Result:
        if request.name == "held":
            self.holding = True
            await self.release.wait()
        return Result()


def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_serves_workqueue_and_reconcile_metrics_of_a_running_controller(
    kube: KubeClient, namespace: str, registry: CollectorRegistry
) -> None:
    manager = Manager(kube, options=options(), registry=registry)
    informer = manager.informer(CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
    reconciler = HoldingReconciler()
    name = "configmaps"
    manager.add(
        Controller(name=name, reconciler=reconciler, registry=registry, max_concurrent_reconciles=2).for_(
            informer
        )
    )
    succeeded = {"controller": name, "result": "success"}
    async with anyio.create_task_group() as tg:
        await tg.start(manager.run)
        await kube.create(CONFIG_MAPS, {"metadata": {"name": "quick", "namespace": namespace}})
        await eventually(
            lambda: (registry.get_sample_value("controller_runtime_reconcile_total", succeeded) or 0) >= 1
        )
        await kube.create(CONFIG_MAPS, {"metadata": {"name": "held", "namespace": namespace}})
        await eventually(lambda: reconciler.holding)
        status, text = await get(manager.health.port, "/metrics")
        reconciler.release.set()
        manager.stop()
    assert status == 200
    samples = scraped(text)

    def value(metric: str, **labels: str) -> float:
        found = samples.get((metric, frozenset(labels.items())))
        assert found is not None, f"{metric}{labels} not served"
        return found

    queue = {"name": name}
    assert value("workqueue_adds_total", **queue) >= 2
    assert value("workqueue_depth", **queue) == 0
    assert value("workqueue_queue_duration_seconds_count", **queue) >= 2
    assert value("workqueue_work_duration_seconds_count", **queue) >= 1
    # "held" is in a worker's hands while /metrics is read.
    assert value("workqueue_unfinished_work_seconds", **queue) > 0
    assert value("workqueue_longest_running_processor_seconds", **queue) > 0
    assert value("workqueue_retries_total", **queue) == 0
    controller = {"controller": name}
    assert value("controller_runtime_reconcile_total", **controller, result="success") >= 1
    assert value("controller_runtime_reconcile_time_seconds_count", **controller) >= 1
    assert value("controller_runtime_active_workers", **controller) == 1
    assert value("controller_runtime_max_concurrent_reconciles", **controller) == 2


async def test_not_ready_and_failing_when_a_cache_cannot_sync(
    kube: KubeClient, registry: CollectorRegistry
) -> None:
    missing = Resource(
        group="absent.llmkube.dev", version="v1", plural="nothings", kind="Nothing", namespaced=True
    )
    manager = Manager(kube, options=options(cache_sync_timeout=4), registry=registry)
    manager.informer(missing, metrics=ReflectorMetrics(registry))
    statuses: list[int] = []

    async def probe() -> None:
        await eventually(lambda: manager.health._bound_port is not None)
        statuses.append((await get(manager.health.port, "/readyz"))[0])

    async def run_with_probe() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(probe)
            await manager.run()

    with pytest.RaisesGroup(pytest.RaisesExc(CacheSyncTimeout, match=r"nothings\.absent\.llmkube\.dev")):
        await run_with_probe()
    assert statuses == [500]


async def test_only_the_leader_runs_controllers_and_a_standby_stays_ready(
    kube: KubeClient, namespace: str, kubeconfig_path: Path
) -> None:
    async with KubeClient.connect(kubeconfig=kubeconfig_path) as other:
        managers, controllers = [], []
        for identity, client in (("one", kube), ("two", other)):
            registry = CollectorRegistry()
            manager = Manager(
                client,
                options=options(
                    leader_election=LeaderElectionConfig(
                        namespace=namespace, name="managers", identity=identity
                    )
                ),
                registry=registry,
            )
            controller = RecordingController(
                manager.informer(CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
            )
            manager.add(controller)
            managers.append(manager)
            controllers.append(controller)
        async with anyio.create_task_group() as tg:
            for manager in managers:
                await tg.start(manager.run)
            await eventually(lambda: any(c.running for c in controllers))
            await anyio.sleep(3)
            assert [c.running for c in controllers].count(True) == 1
            for manager in managers:
                assert (await get(manager.health.port, "/readyz"))[0] == 200
            leader = next(i for i, c in enumerate(controllers) if c.running)
            managers[leader].stop()  # graceful: releases the lease
            took = await eventually(lambda: controllers[1 - leader].running, within=10)
            managers[1 - leader].stop()
    # At the standby's next retry (2 s * 2.2 at most), plus the API calls on a busy machine: far below 15 s.
    assert took < 2 * 2.2 + 3
