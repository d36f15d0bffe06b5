"""What the Model reconciler tests need around the controller: the controller running in-process on a client
that counts its writes, a stand-in kubelet for download pods, and polling helpers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from prometheus_client import CollectorRegistry

from controller.config import ControllerConfig, ControllerOptions
from controller.kube import EventRecorder, KubeClient
from controller.kube.resources import JOBS, MODELS
from controller.reconcilers.model import FETCH_SELECTOR, setup_model_controller
from controller.runtime.manager import Manager, ManagerOptions
from tests.integration.reconcilers.counting_client import CountingKubeClient as CountingKubeClient
from tests.integration.waiting import wait_for as wait_for
from tests.integration.waiting import wait_gone as wait_gone

T = TypeVar("T")

API_VERSION = "inference.llmkube.dev/v1alpha1"
#: No node carries this label, so download pods stay unscheduled and kwok never fakes their completion.
FAKE_KUBELET_SELECTOR = {"llmkube.dev/test-kubelet": "true"}


def model_test_config(**overrides: Any) -> ControllerConfig:
    """Small claims (the pool's 10Gi volumes), retries in seconds, pods kept for the stand-in kubelet."""
    settings: dict[str, Any] = {
        "model_cache_size": "10Gi",
        "fetch_node_selector": FAKE_KUBELET_SELECTOR,
        "fetch_retry_initial_seconds": 3.0,
        "fetch_retry_max_seconds": 12.0,
        **overrides,
    }
    return ControllerConfig(**settings)


@contextlib.asynccontextmanager
async def running_model_controller(
    kubeconfig: Path, *, namespace: str, config: ControllerConfig, registry: CollectorRegistry | None = None
) -> AsyncIterator[CountingKubeClient]:
    """A manager with only the Model controller, on its own counting client, until the block ends."""
    registry = registry or CollectorRegistry()
    async with CountingKubeClient.connect(kubeconfig=kubeconfig) as client:
        assert isinstance(client, CountingKubeClient)
        manager = Manager(
            client, options=ManagerOptions(health_port=0, handle_signals=False), registry=registry
        )
        recorder = EventRecorder(client, component="llmkube-controller")
        manager.add(recorder, needs_leader=False)
        setup_model_controller(
            manager, ControllerOptions(config=config, namespace=namespace), recorder=recorder
        )
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            try:
                yield client
            finally:
                manager.stop()


def model_manifest(name: str, *, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or ():
        if item.get("type") == kind:
            return dict(item)
    return {}


def phase_is(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: (obj.get("status") or {}).get("phase") in phases


async def get_model(kube: KubeClient, name: str, namespace: str) -> dict[str, Any]:
    return await kube.get(MODELS, name, namespace=namespace)


async def fetch_jobs(kube: KubeClient, namespace: str) -> list[dict[str, Any]]:
    return (await kube.list(JOBS, namespace=namespace, label_selector=FETCH_SELECTOR)).items
