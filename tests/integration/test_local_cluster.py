"""The embedded control plane behaves like a real cluster where LLMKube's tests depend on it: workloads run
on fake nodes, GPUs are scheduled as extended resources, claims bind, controllers and garbage collection work,
and the operations other tests need (restart, compaction, metrics, extra nodes) do what they promise."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from hack.localcluster import ClusterBase, LocalCluster, nvidia_gpu_node

T = TypeVar("T")
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
GPU_NODES = {"gpu-node-1", "gpu-node-2"}


async def eventually(probe: Callable[[], Awaitable[T | None]], *, what: str, seconds: float = 60.0) -> T:
    """Polls until `probe` returns something truthy; integration tests wait on real controllers."""
    deadline = time.monotonic() + seconds
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        await anyio.sleep(0.2)


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with client.ApiClient(configuration) as api_client:
        yield api_client


@pytest.fixture
async def namespace(api: client.ApiClient) -> AsyncIterator[str]:
    name = f"t-{secrets.token_hex(4)}"
    core = client.CoreV1Api(api)
    await core.create_namespace(obj(metadata={"name": name}))
    # Pods are refused until the namespace's default ServiceAccount exists, which a busy cluster takes a moment to make.
    await eventually(lambda: _default_service_account(core, name), what="the default ServiceAccount")
    yield name
    await core.delete_namespace(name)


def obj(**fields: Any) -> Any:
    """A manifest as a plain dict; the client serialises dicts as they are, so tests need no model classes."""
    return fields


def pod(
    name: str, *, resources: dict[str, Any] | None = None, tolerations: list[dict[str, str]] | None = None
) -> Any:
    container: dict[str, Any] = {"name": "main", "image": "registry.invalid/llama-server:test"}
    if resources:
        container["resources"] = {"requests": resources, "limits": resources}
    return obj(metadata={"name": name}, spec={"containers": [container], "tolerations": tolerations or []})


async def test_deployment_becomes_available_with_pods_running_on_fake_nodes(
    api: client.ApiClient, namespace: str
) -> None:
    labels = {"app": "web"}
    await client.AppsV1Api(api).create_namespaced_deployment(
        namespace,
        obj(
            metadata={"name": "web"},
            spec={
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod("ignored")["spec"]},
            },
        ),
    )

    async def available() -> bool:
        deployment = await client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
        return (deployment.status.available_replicas or 0) == 2

    await eventually(available, what="Deployment web to be Available")
    pods = (await client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=web")).items
    assert [p.status.phase for p in pods] == ["Running", "Running"]
    assert all(p.spec.node_name for p in pods)


async def test_pod_asking_for_more_gpus_than_any_node_has_stays_pending_as_insufficient(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod(
        namespace, pod("greedy", resources={"nvidia.com/gpu": "16"}, tolerations=[GPU_TOLERATION])
    )

    async def scheduling_failure() -> str | None:
        events = (
            await core.list_namespaced_event(namespace, field_selector="involvedObject.name=greedy")
        ).items
        return next((e.message for e in events if e.reason == "FailedScheduling"), None)

    message = await eventually(scheduling_failure, what="a FailedScheduling event")
    assert "Insufficient nvidia.com/gpu" in message
    assert (await core.read_namespaced_pod("greedy", namespace)).status.phase == "Pending"


async def test_pod_tolerating_the_gpu_taint_lands_on_a_gpu_node(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod(
        namespace, pod("two-gpus", resources={"nvidia.com/gpu": "2"}, tolerations=[GPU_TOLERATION])
    )

    async def running() -> client.V1Pod | None:
        found = await core.read_namespaced_pod("two-gpus", namespace)
        return found if found.status.phase == "Running" else None

    assert (await eventually(running, what="the GPU pod to run")).spec.node_name in GPU_NODES


async def test_gpu_pod_without_the_toleration_is_not_scheduled(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod(namespace, pod("intolerant", resources={"nvidia.com/gpu": "1"}))

    async def scheduling_failure() -> str | None:
        events = (
            await core.list_namespaced_event(namespace, field_selector="involvedObject.name=intolerant")
        ).items
        return next((e.message for e in events if e.reason == "FailedScheduling"), None)

    assert "untolerated taint" in await eventually(scheduling_failure, what="a FailedScheduling event")


async def test_claim_binds_to_a_volume_from_the_pool(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_persistent_volume_claim(
        namespace,
        obj(
            metadata={"name": "model-cache"},
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
        ),
    )

    async def bound() -> client.V1PersistentVolumeClaim | None:
        claim = await core.read_namespaced_persistent_volume_claim("model-cache", namespace)
        return claim if claim.status.phase == "Bound" else None

    claim = await eventually(bound, what="the claim to bind")
    assert claim.spec.storage_class_name == "local-hostpath"  # the default class was applied


async def test_job_gets_a_pod_that_completes(api: client.ApiClient, namespace: str) -> None:
    await client.BatchV1Api(api).create_namespaced_job(
        namespace,
        obj(
            metadata={"name": "fetch"},
            spec={"template": {"spec": {**pod("ignored")["spec"], "restartPolicy": "Never"}}},
        ),
    )

    async def succeeded() -> bool:
        job = await client.BatchV1Api(api).read_namespaced_job("fetch", namespace)
        return (job.status.succeeded or 0) == 1

    await eventually(succeeded, what="the Job to succeed")
    pods = (await client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="job-name=fetch")).items
    assert len(pods) == 1


async def test_deleting_an_owner_garbage_collects_its_dependents(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    owner = await core.create_namespaced_config_map(namespace, obj(metadata={"name": "owner"}))
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    await core.create_namespaced_config_map(
        namespace, obj(metadata={"name": "dependent", "ownerReferences": [reference]})
    )

    await core.delete_namespaced_config_map("owner", namespace)

    async def collected() -> bool:
        try:
            await core.read_namespaced_config_map("dependent", namespace)
        except ApiException as error:
            return error.status == 404
        return False

    await eventually(collected, what="the dependent ConfigMap to be garbage-collected")


async def test_service_account_tokens_are_issued_and_verified(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    token = await core.create_namespaced_service_account_token(
        "default", namespace, obj(spec={"audiences": []})
    )

    review = await client.AuthenticationV1Api(api).create_token_review(
        obj(spec={"token": token.status.token})
    )

    assert review.status.authenticated
    assert review.status.user.username == f"system:serviceaccount:{namespace}:default"


async def _default_service_account(core: client.CoreV1Api, namespace: str) -> bool:
    accounts = (await core.list_namespaced_service_account(namespace)).items
    return any(a.metadata.name == "default" for a in accounts)


async def test_an_added_sixteen_gpu_node_takes_a_sixteen_gpu_pod(
    local_cluster: ClusterBase, api: client.ApiClient, namespace: str
) -> None:
    local_cluster.add_node(nvidia_gpu_node("gpu-node-16", gpus=16))
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod(
        namespace, pod("sixteen", resources={"nvidia.com/gpu": "16"}, tolerations=[GPU_TOLERATION])
    )

    async def running() -> client.V1Pod | None:
        found = await core.read_namespaced_pod("sixteen", namespace)
        return found if found.status.phase == "Running" else None

    assert (await eventually(running, what="the 16-GPU pod to run")).spec.node_name == "gpu-node-16"
    await core.delete_namespaced_pod("sixteen", namespace)
    await core.delete_node("gpu-node-16")  # later tests expect no node with 16 GPUs


def test_apiserver_metrics_expose_request_counters(local_cluster: ClusterBase) -> None:
    assert "apiserver_request_total{" in local_cluster.apiserver_metrics()


def test_restarted_apiserver_serves_the_same_data(local_cluster: ClusterBase) -> None:
    owned = _owned(local_cluster)
    owned.api(
        "POST", "/api/v1/namespaces/default/configmaps", body={"metadata": {"name": "survives-restart"}}
    )

    owned.restart_apiserver()

    assert (
        owned.api("GET", "/api/v1/namespaces/default/configmaps/survives-restart")["metadata"]["name"]
        == "survives-restart"
    )
    owned.api("DELETE", "/api/v1/namespaces/default/configmaps/survives-restart")


def test_compaction_makes_lists_at_an_older_resource_version_gone(local_cluster: ClusterBase) -> None:
    owned = _owned(local_cluster)
    old = _resource_version_before_a_write(owned, "compaction-list")

    owned.compact_etcd()

    response = owned.request("GET", f"{CONFIGMAPS}?resourceVersion={old}&resourceVersionMatch=Exact")
    assert response.status == 410


def test_compaction_makes_watches_from_an_older_resource_version_expire(local_cluster: ClusterBase) -> None:
    owned = _owned(local_cluster)
    old = _resource_version_before_a_write(owned, "compaction-watch")

    owned.compact_etcd()

    event = owned.request("GET", f"{CONFIGMAPS}?watch=1&resourceVersion={old}&timeoutSeconds=5").json()
    assert (event["type"], event["object"]["code"]) == ("ERROR", 410)


CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def _resource_version_before_a_write(cluster: LocalCluster, name: str) -> str:
    old: str = cluster.api("GET", CONFIGMAPS)["metadata"]["resourceVersion"]
    cluster.api("POST", CONFIGMAPS, body={"metadata": {"name": name}})
    cluster.api("DELETE", f"{CONFIGMAPS}/{name}")
    return old


def _owned(cluster: ClusterBase) -> LocalCluster:
    if not isinstance(cluster, LocalCluster):
        pytest.skip(
            "needs a cluster started by this test session, not one reused via LLMKUBE_TEST_KUBECONFIG"
        )
    return cluster
