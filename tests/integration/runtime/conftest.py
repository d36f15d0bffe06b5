"""Fixtures for runtime tests against the embedded control plane: a client, a fresh namespace, a test CRD."""

from __future__ import annotations

import contextlib
import inspect
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry

from controller.kube import KubeClient, NotFound, Resource
from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, NAMESPACES
from hack.localcluster import REUSE_ENV, ReusedCluster
from tests.integration.namespaces import restricted_namespace

WIDGETS = Resource(
    group="runtime.test.llmkube.dev", version="v1", plural="widgets", kind="Widget", namespaced=True
)

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{WIDGETS.plural}.{WIDGETS.group}"},
    "spec": {
        "group": WIDGETS.group,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 0, "maximum": 10},
                                    "modelRef": {
                                        "type": "object",
                                        "properties": {"name": {"type": "string"}},
                                    },
                                },
                            },
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def call_cluster(method: Callable[[], Any]) -> None:
    """Run a cluster-control method whether the fixture offers it sync (in a thread) or async."""
    if inspect.iscoroutinefunction(method):
        await method()
    else:
        await maybe_await(await anyio.to_thread.run_sync(method))


async def eventually(predicate: Callable[[], bool], *, within: float = 20.0) -> float:
    """Poll until `predicate()` holds; returns the seconds it took. Polling is fine against a real server."""
    start = anyio.current_time()
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - the state lives in the apiserver, no event to wait on
            await anyio.sleep(0.05)
    return anyio.current_time() - start


@pytest.fixture
def registry() -> CollectorRegistry:
    """A private metrics registry, so tests can read exact counter values."""
    return CollectorRegistry()


@pytest.fixture(scope="session")
def kubeconfig_path(local_cluster: Any) -> Path:
    return Path(local_cluster.kubeconfig)


@pytest.fixture
def owned_cluster(local_cluster: Any) -> Any:
    """The local cluster, for tests that restart kube-apiserver or compact etcd; skipped on a reused one."""
    if isinstance(local_cluster, ReusedCluster):
        pytest.skip(
            f"restarts kube-apiserver or compacts etcd, which only a cluster this run started allows; "
            f"unset {REUSE_ENV} to run it"
        )
    return local_cluster


@pytest.fixture
async def kube(kubeconfig_path: Path) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig_path) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    name = f"rt-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


@pytest.fixture
async def widgets(kube: KubeClient) -> Resource:
    """The test CRD, installed (idempotently, by server-side apply) and served."""
    await kube.apply(CUSTOM_RESOURCE_DEFINITIONS, WIDGET_CRD, field_manager="runtime-tests")

    def established(crd: dict[str, Any]) -> bool:
        conditions = crd.get("status", {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    with anyio.fail_after(30):
        while not established(await kube.get(CUSTOM_RESOURCE_DEFINITIONS, WIDGET_CRD["metadata"]["name"])):  # noqa: ASYNC110
            await anyio.sleep(0.2)
    return WIDGETS
