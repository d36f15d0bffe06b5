"""A watch whose connection goes silent (half-dead load balancer) is noticed by the inactivity deadline."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry

from controller.kube import KubeClient, Timeouts
from controller.kube.resources import CONFIG_MAPS
from controller.runtime.informer import Informer
from controller.runtime.reflector import ReflectorMetrics
from tests.integration.runtime.conftest import eventually
from tests.integration.runtime.tcp_proxy import StallingProxy

pytestmark = pytest.mark.cluster

INACTIVITY = 3.0


async def test_stalled_watch_is_replaced_and_catches_up(
    kube: KubeClient, namespace: str, kubeconfig_path: Path, tmp_path: Path, registry: CollectorRegistry
) -> None:
    proxy = StallingProxy.for_kubeconfig(kubeconfig_path)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.run)
        through = proxy.kubeconfig_through(kubeconfig_path, tmp_path / "kubeconfig")
        timeouts = Timeouts(request=5, watch_inactivity=INACTIVITY)
        async with KubeClient.connect(kubeconfig=through, timeouts=timeouts) as proxied:
            informer = Informer(proxied, CONFIG_MAPS, namespace=namespace, metrics=ReflectorMetrics(registry))
            await tg.start(informer.run)
            with anyio.fail_after(30):
                await informer.wait_synced()
            await eventually(lambda: informer.reflector.connected)
            proxy.stall()
            await kube.create(CONFIG_MAPS, {"metadata": {"name": "late", "namespace": namespace}})
            took = await eventually(lambda: f"{namespace}/late" in informer.store, within=INACTIVITY + 10)
            tg.cancel_scope.cancel()
    inactive = registry.get_sample_value(
        "informer_watch_ends_total", {"resource": f"configmaps@{namespace}", "reason": "inactive"}
    )
    # The stalled connection delivered nothing: only the watch that replaced it brought the object.
    assert inactive == 1
    print(f"object seen {took:.1f}s after it was created behind a stalled watch")
