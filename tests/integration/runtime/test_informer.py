"""Informers against a real apiserver: order, restarts, expired versions; the cache always ends equal to LIST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry

from controller.kube import KubeClient, NotFound, Timeouts
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics
from controller.runtime.store import object_key
from tests.integration.runtime.conftest import call_cluster, eventually
from tests.integration.runtime.tcp_proxy import StallingProxy

pytestmark = pytest.mark.cluster


class Mirror:
    """Rebuilds the cache from handler calls alone, to prove no event was lost or invented."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.log: list[tuple[str, str]] = []

    def on_add(self, obj: dict[str, Any]) -> None:
        self.log.append(("add", obj["metadata"]["name"]))
        self.objects[object_key(obj)] = obj["metadata"]["resourceVersion"]

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.log.append(("update", new["metadata"]["name"]))
        self.objects[object_key(new)] = new["metadata"]["resourceVersion"]

    def on_delete(self, obj: dict[str, Any]) -> None:
        self.log.append(("delete", obj["metadata"]["name"]))
        self.objects.pop(object_key(obj), None)


@asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[Informer]:
    async with anyio.create_task_group() as tg:
        await tg.start(informer.run)
        with anyio.fail_after(30):
            await informer.wait_synced()
        yield informer
        tg.cancel_scope.cancel()


async def server_state(kube: KubeClient, namespace: str) -> dict[str, str]:
    listed = await kube.list(CONFIG_MAPS, namespace=namespace, resource_version="")
    return {object_key(o): o["metadata"]["resourceVersion"] for o in listed.items}


def cache_state(informer: Informer) -> dict[str, str]:
    return {object_key(o): o["metadata"]["resourceVersion"] for o in informer.store.list()}


async def converges(
    kube: KubeClient, namespace: str, informer: Informer, mirror: Mirror, within: float = 30
) -> None:
    """The cache equals a fresh consistent LIST, re-taken on every poll (the controller-manager may still be
    adding its kube-root-ca.crt ConfigMap), and the handler-built mirror equals both."""
    with anyio.fail_after(within):
        while cache_state(informer) != (expected := await server_state(kube, namespace)):  # noqa: ASYNC110
            await anyio.sleep(0.1)
    assert mirror.objects == expected


def cm(name: str, namespace: str, value: str = "0") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "data": {"v": value}}


async def churn(kube: KubeClient, namespace: str, prefix: str) -> None:
    """Creates, updates and deletes, leaving a known mix behind."""
    for index in range(10):
        await kube.create(CONFIG_MAPS, cm(f"{prefix}-{index}", namespace))
    for index in range(0, 10, 2):
        await kube.merge_patch(CONFIG_MAPS, f"{prefix}-{index}", {"data": {"v": "1"}}, namespace=namespace)
    for index in range(0, 10, 3):
        await kube.delete(CONFIG_MAPS, f"{prefix}-{index}", namespace=namespace)


async def test_sees_create_update_delete_in_order(
    kube: KubeClient, namespace: str, registry: CollectorRegistry
) -> None:
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
    mirror = Mirror()
    informer.add_event_handler(mirror)
    async with running(informer):
        mirror.log.clear()
        await kube.create(CONFIG_MAPS, cm("a", namespace))
        await kube.merge_patch(CONFIG_MAPS, "a", {"data": {"v": "1"}}, namespace=namespace)
        await kube.delete(CONFIG_MAPS, "a", namespace=namespace)
        await eventually(lambda: ("delete", "a") in mirror.log)
    # The controller-manager may add its kube-root-ca.crt ConfigMap meanwhile; only "a" is ours.
    assert [entry for entry in mirror.log if entry[1] == "a"] == [
        ("add", "a"),
        ("update", "a"),
        ("delete", "a"),
    ]


async def test_custom_index_answers_lookups(
    kube: KubeClient, namespace: str, registry: CollectorRegistry
) -> None:
    from controller.runtime.indexer import field_index

    informer = Informer(
        kube,
        CONFIG_MAPS,
        namespace=namespace,
        metrics=ReflectorMetrics(registry),
        indexers={"data.v": field_index("data.v")},
    )
    async with running(informer):
        await kube.create(CONFIG_MAPS, cm("a", namespace, "x"))
        await kube.create(CONFIG_MAPS, cm("b", namespace, "y"))
        await eventually(lambda: f"{namespace}/b" in informer.store and f"{namespace}/a" in informer.store)
        assert [o["metadata"]["name"] for o in informer.store.by_index("data.v", f"{namespace}/x")] == ["a"]
        assert [o["metadata"]["name"] for o in informer.store.by_index("data.v", f"{namespace}/y")] == ["b"]


async def test_label_selector_limits_the_cache(
    kube: KubeClient, namespace: str, registry: CollectorRegistry
) -> None:
    informer = Informer(
        kube, CONFIG_MAPS, namespace=namespace, label_selector="team=a", metrics=ReflectorMetrics(registry)
    )
    async with running(informer):
        await kube.create(
            CONFIG_MAPS, {**cm("other", namespace), "metadata": {"name": "other", "namespace": namespace}}
        )
        await kube.create(
            CONFIG_MAPS, {"metadata": {"name": "mine", "namespace": namespace, "labels": {"team": "a"}}}
        )
        await eventually(lambda: f"{namespace}/mine" in informer.store)
        assert f"{namespace}/other" not in informer.store


async def test_survives_an_apiserver_restart_without_lost_or_phantom_objects(
    kube: KubeClient, namespace: str, owned_cluster: Any, registry: CollectorRegistry
) -> None:
    informer = Informer(kube, CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
    mirror = Mirror()
    informer.add_event_handler(mirror)
    async with running(informer):
        await churn(kube, namespace, "before")
        await call_cluster(owned_cluster.restart_apiserver)
        await churn(kube, namespace, "after")
        await converges(kube, namespace, informer, mirror, within=60)


async def test_recovers_from_an_expired_version_with_a_relist(
    kube: KubeClient,
    namespace: str,
    owned_cluster: Any,
    kubeconfig_path: Path,
    tmp_path: Path,
    registry: CollectorRegistry,
) -> None:
    proxy = StallingProxy.for_kubeconfig(kubeconfig_path)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.run)
        through = proxy.kubeconfig_through(kubeconfig_path, tmp_path / "kubeconfig")
        async with KubeClient.connect(
            kubeconfig=through, timeouts=Timeouts(request=3, watch_inactivity=2)
        ) as proxied:
            informer = Informer(proxied, CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
            mirror = Mirror()
            informer.add_event_handler(mirror)
            async with running(informer):
                await churn(kube, namespace, "seen")
                await converges(kube, namespace, informer, mirror)
                # Cut the informer off, change things behind its back, then let etcd forget the history.
                proxy.refuse(True)
                proxy.stall()
                await churn(kube, namespace, "unseen")
                for name in list(await server_state(kube, namespace))[:3]:
                    with suppress(NotFound):
                        await kube.delete(CONFIG_MAPS, name.split("/")[1], namespace=namespace)
                await call_cluster(owned_cluster.compact_etcd)
                await call_cluster(owned_cluster.restart_apiserver)
                proxy.refuse(False)
                await converges(kube, namespace, informer, mirror, within=60)
        tg.cancel_scope.cancel()
    label = {"resource": f"configmaps@{namespace}"}
    # The watch ended because its version had expired (a 410), and that is what made the informer list again.
    expired = {**label, "reason": "expired"}
    assert (registry.get_sample_value("informer_watch_ends_total", expired) or 0) >= 1
    assert (registry.get_sample_value("informer_lists_total", label) or 0) >= 2
