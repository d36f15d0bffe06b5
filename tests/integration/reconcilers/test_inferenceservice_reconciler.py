"""The InferenceService reconciler against the embedded control plane with fake GPU nodes.

Models are made Ready by patching their status (the Model reconciler is not under test); kube-scheduler, the
Deployment and garbage-collection controllers and kwok are real, so placement, rollouts and cascading deletion
are the cluster's own.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from controller.builders.labels import selector_labels
from controller.config import CONTROLLER_PROGRAM, ControllerConfig
from controller.kube import KubeClient, NotFound, Resource, user_agent
from controller.kube.resources import (
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    INFERENCE_POOLS,
    INFERENCE_SERVICES,
    MODELS,
    NAMESPACES,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    SERVICE_MONITORS,
    SERVICES,
)
from controller.reconcilers.inferenceservice import wiring as isvc_wiring
from controller.reconcilers.inferenceservice.crd_gated import INFERENCE_POOL_CRD, SERVICE_MONITOR_CRD
from hack.localcluster import WRITE_VERBS, AuditLogUnavailableError, ClusterBase
from hack.localcluster.inventory import FakeNode, nvidia_gpu_node
from tests.integration.events import event_messages, event_reasons, self_transitions
from tests.integration.namespaces import restricted_namespace
from tests.integration.reconcilers.isvc_harness import (
    CountingKubeClient,
    args_follow,
    condition,
    container,
    hf_model,
    inference_service,
    make_model_ready,
    phase_is,
    running_controller,
    sample,
    service_monitor_crd,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.cluster

CONFIG = ControllerConfig()


@pytest.fixture(scope="module")
def api_crds(local_cluster: ClusterBase) -> ClusterBase:
    local_cluster.install_crds()
    return local_cluster


@pytest.fixture
async def kube(kubeconfig: Path, api_crds: ClusterBase) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient, local_cluster: ClusterBase) -> AsyncIterator[str]:
    """A fresh namespace with the model cache claim the Model reconciler would have created."""
    name = f"isvc-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    # One small volume per test namespace, so the shared pool never runs dry.
    await anyio.to_thread.run_sync(lambda: local_cluster.add_persistent_volumes(capacity="1Gi"))
    await kube.create(
        PERSISTENT_VOLUME_CLAIMS,
        {
            "metadata": {"name": CONFIG.model_cache_pvc_name, "namespace": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


def getter(kube: KubeClient, resource: Any, name: str, namespace: str | None) -> Any:
    async def fetch() -> dict[str, Any]:
        return await kube.get(resource, name, namespace=namespace)

    return fetch


async def create_all(kube: KubeClient, *objs: dict[str, Any]) -> None:
    for obj in objs:
        resource = MODELS if obj["kind"] == "Model" else INFERENCE_SERVICES
        await kube.create(resource, obj)


async def pods_of(kube: KubeClient, namespace: str, isvc: str) -> list[dict[str, Any]]:
    selector = ",".join(f"{k}={v}" for k, v in selector_labels(isvc).items())
    return (await kube.list(PODS, namespace=namespace, label_selector=selector)).items


async def node_of(kube: KubeClient, pod: dict[str, Any]) -> dict[str, Any]:
    return await kube.get(NODES, pod["spec"]["nodeName"])


def gpus_of(node: dict[str, Any]) -> int:
    return int(node["status"]["capacity"].get("nvidia.com/gpu", "0"))


# -- release-note samples -------------------------------------------------------------------------------------


async def test_the_13b_sample_serves_on_two_gpus_split_by_layer(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    model = sample("multi_gpu_llama_13b.yaml", "Model", namespace=namespace)
    isvc = sample("multi_gpu_llama_13b.yaml", "InferenceService", namespace=namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await create_all(kube, model, isvc)
        await make_model_ready(kube, "llama-2-13b-chat", namespace=namespace)
        ready = await wait_for(
            getter(kube, INFERENCE_SERVICES, "llama-2-13b-chat", namespace), phase_is("Ready"), what="Ready"
        )
        deployment = await kube.get(DEPLOYMENTS, "llama-2-13b-chat", namespace=namespace)
        pods = await pods_of(kube, namespace, "llama-2-13b-chat")
    server = container(deployment)
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert args_follow(server["args"], "--split-mode", "layer", "--tensor-split", "1,1")
    assert (ready["status"]["gpuCount"], ready["status"]["tensorSplit"]) == (2, "1,1")
    assert ready["status"]["endpoint"] == f"http://llama-2-13b-chat.{namespace}.svc.cluster.local:8080/v1"
    assert gpus_of(await node_of(kube, pods[0])) > 0


async def test_the_70b_sample_splits_evenly_over_four_gpus(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    model = sample("multi_gpu_llama_70b.yaml", "Model", namespace=namespace)
    isvc = sample("multi_gpu_llama_70b.yaml", "InferenceService", namespace=namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await create_all(kube, model, isvc)
        await make_model_ready(kube, "llama-3.1-70b", namespace=namespace)
        ready = await wait_for(
            getter(kube, INFERENCE_SERVICES, "llama-3.1-70b", namespace), phase_is("Ready"), what="Ready"
        )
        deployment = await kube.get(DEPLOYMENTS, "llama-3-1-70b", namespace=namespace)
    server = container(deployment)
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert args_follow(server["args"], "--tensor-split", "1,1,1,1")
    assert ready["status"]["tensorSplit"] == "1,1,1,1"


async def test_the_aks_spot_sample_waits_for_a_spot_node_and_runs_on_it(
    kube: KubeClient, namespace: str, kubeconfig: Path, local_cluster: ClusterBase
) -> None:
    model = sample("multi_gpu_llama_13b.yaml", "Model", namespace=namespace)
    isvc = sample("aks_spot_gpu.yaml", "InferenceService", namespace=namespace)
    name = "llama-2-13b-chat-spot"
    async with running_controller(kubeconfig, namespace=namespace):
        await create_all(kube, model, isvc)
        await make_model_ready(kube, "llama-2-13b-chat", namespace=namespace)
        pending = await wait_for(
            getter(kube, INFERENCE_SERVICES, name, namespace), phase_is("Pending"), what="Unschedulable"
        )
        spot = nvidia_gpu_node(f"aks-spot-{secrets.token_hex(3)}", gpus=4)
        spot_node = FakeNode(
            name=spot.name,
            cpu=spot.cpu,
            memory=spot.memory,
            extended_resources=spot.extended_resources,
            labels={**spot.labels, "kubernetes.azure.com/scalesetpriority": "spot", "agentpool": "gpupool"},
            taints=(
                *spot.taints,
                {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"},
            ),
        )
        await anyio.to_thread.run_sync(lambda: local_cluster.add_node(spot_node))
        await wait_for(getter(kube, INFERENCE_SERVICES, name, namespace), phase_is("Ready"), what="Ready")
        pods = await pods_of(kube, namespace, name)
    assert condition(pending, "Degraded")["reason"] == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in pending["status"]["scheduling"]
    pod_spec = pods[0]["spec"]
    assert pod_spec["nodeName"] == spot_node.name
    assert pod_spec["nodeSelector"] == {
        "kubernetes.azure.com/scalesetpriority": "spot",
        "agentpool": "gpupool",
    }
    tolerations = {t["key"] for t in pod_spec["tolerations"]}
    assert {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"} <= tolerations


# -- GPU scheduling -------------------------------------------------------------------------------------------


async def test_a_16_gpu_service_waits_for_gpus_then_recovers_when_a_big_node_joins(
    kube: KubeClient, namespace: str, kubeconfig: Path, local_cluster: ClusterBase
) -> None:
    pool = f"big-{secrets.token_hex(3)}"
    first = nvidia_gpu_node(f"{pool}-1", gpus=8)
    await anyio.to_thread.run_sync(
        lambda: local_cluster.add_node(attrs_with_labels(first, {"llmkube.dev/pool": pool}))
    )
    # Two pods of eight GPUs each in a pool that has one 8-GPU node: the second pod cannot be placed.
    isvc = inference_service(
        "big",
        namespace=namespace,
        model="big-model",
        replicas=2,
        accelerator={"type": "nvidia", "gpuCount": 8},
        nodeSelector={"llmkube.dev/pool": pool},
    )
    try:
        async with running_controller(kubeconfig, namespace=namespace):
            await create_all(kube, hf_model("big-model", namespace=namespace), isvc)
            await make_model_ready(kube, "big-model", namespace=namespace)
            waiting = await wait_for(
                getter(kube, INFERENCE_SERVICES, "big", namespace),
                phase_is("WaitingForGPU"),
                what="WaitingForGPU",
            )
            second = nvidia_gpu_node(f"{pool}-2", gpus=16)
            await anyio.to_thread.run_sync(
                lambda: local_cluster.add_node(attrs_with_labels(second, {"llmkube.dev/pool": pool}))
            )
            # Ready comes from the Deployment and Degraded from the pods: two watches, either may be first.
            ready = await wait_for(
                getter(kube, INFERENCE_SERVICES, "big", namespace),
                lambda o: phase_is("Ready")(o) and condition(o, "Degraded").get("status") == "False",
                what="Ready and not Degraded",
            )
            # The Event about a transition is posted just after the status that shows it.
            await wait_for(
                lambda: event_reasons(kube, namespace, "big"),
                lambda reasons: {"InsufficientGPU", "ReplicasReady"} <= reasons.keys(),
                what="InsufficientGPU and ReplicasReady Events",
            )
    finally:
        # Other tests expect no node with more than 8 GPUs.
        for node in (first.name, f"{pool}-2"):
            with contextlib.suppress(NotFound):
                await kube.delete(NODES, node)
    assert "Insufficient nvidia.com/gpu" in waiting["status"]["scheduling"]
    assert condition(waiting, "Ready")["reason"] == "InsufficientGPU"
    assert condition(waiting, "Degraded")["status"] == "True"
    assert (ready["status"]["readyReplicas"], condition(ready, "Degraded")["status"]) == (2, "False")


def attrs_with_labels(node: FakeNode, labels: dict[str, str]) -> FakeNode:
    return FakeNode(
        name=node.name,
        cpu=node.cpu,
        memory=node.memory,
        extended_resources=node.extended_resources,
        labels={**node.labels, **labels},
        taints=node.taints,
    )


# -- Model lifecycle ------------------------------------------------------------------------------------------


async def test_a_service_created_before_its_model_serves_once_the_model_is_ready(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    # Dots in both names: the children get DNS-1035 names, the labels and the modelRef keep the dots.
    isvc = inference_service("chat.v1", namespace=namespace, model="llama-3.2-1b")
    fetch = getter(kube, INFERENCE_SERVICES, "chat.v1", namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await create_all(kube, isvc)
        missing = await wait_for(fetch, phase_is("WaitingForModel"), what="WaitingForModel")
        await create_all(kube, hf_model("llama-3.2-1b", namespace=namespace))
        await wait_for(
            fetch, lambda o: condition(o, "ModelReady").get("reason") == "ModelPending", what="pending"
        )
        with pytest.raises(NotFound):
            await kube.get(DEPLOYMENTS, "chat-v1", namespace=namespace)
        await make_model_ready(kube, "llama-3.2-1b", namespace=namespace)
        ready = await wait_for(fetch, phase_is("Ready"), what="Ready")
        deployment = await kube.get(DEPLOYMENTS, "chat-v1", namespace=namespace)
        messages = await event_messages(kube, namespace, "chat.v1")
    assert self_transitions(messages) == [], "ModelNotFound -> WaitingForModel is one phase"
    assert condition(missing, "Ready")["reason"] == "ModelNotFound"
    assert condition(missing, "Degraded")["reason"] == "ModelNotFound"
    assert condition(ready, "ModelReady")["status"] == "True"
    assert (
        deployment["spec"]["template"]["metadata"]["labels"]["inference.llmkube.dev/model"] == "llama-3.2-1b"
    )


# -- spec changes ---------------------------------------------------------------------------------------------


async def ready_service(kube: KubeClient, namespace: str, name: str = "chat", **spec: Any) -> dict[str, Any]:
    await create_all(
        kube,
        hf_model("tiny", namespace=namespace),
        inference_service(name, namespace=namespace, model="tiny", **spec),
    )
    await make_model_ready(kube, "tiny", namespace=namespace)
    return await wait_for(getter(kube, INFERENCE_SERVICES, name, namespace), phase_is("Ready"), what="Ready")


async def patch_spec(kube: KubeClient, namespace: str, name: str, spec: dict[str, Any]) -> None:
    await kube.merge_patch(INFERENCE_SERVICES, name, {"spec": spec}, namespace=namespace)


async def test_changing_replicas_resources_or_args_rolls_the_deployment(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    deployment = getter(kube, DEPLOYMENTS, "chat", namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace)
        await patch_spec(kube, namespace, "chat", {"replicas": 2})
        await wait_for(deployment, lambda d: d["spec"]["replicas"] == 2, what="2 replicas")
        await patch_spec(kube, namespace, "chat", {"resources": {"cpu": "2", "memory": "4Gi"}})
        await wait_for(
            deployment,
            lambda d: container(d)["resources"].get("requests") == {"cpu": "2", "memory": "4Gi"},
            what="new resources",
        )
        await patch_spec(kube, namespace, "chat", {"extraArgs": ["--temp", "0.2"]})
        rolled = await wait_for(deployment, lambda d: "--temp" in container(d)["args"], what="new args")
        # Mid-rollout the surge pod is ready beside the old ones (3 of 2); the rollout ends when Progressing does.
        ready = await wait_for(
            getter(kube, INFERENCE_SERVICES, "chat", namespace),
            lambda o: (
                phase_is("Ready")(o)
                and o["status"]["observedGeneration"] == o["metadata"]["generation"]
                and condition(o, "Progressing").get("reason") == "RolloutComplete"
            ),
            what="Ready with the rollout complete",
        )
    assert rolled["metadata"]["generation"] >= 4
    assert ready["status"]["readyReplicas"] == 2


async def test_kubectl_scale_works_through_the_scale_subresource(
    kube: KubeClient, namespace: str, kubeconfig: Path, local_cluster: ClusterBase
) -> None:
    async with running_controller(kubeconfig, namespace=namespace):
        ready = await ready_service(kube, namespace)
        await anyio.to_thread.run_sync(
            lambda: local_cluster.kubectl("scale", "-n", namespace, "isvc/chat", "--replicas=3")
        )
        scaled = await wait_for(
            getter(kube, INFERENCE_SERVICES, "chat", namespace),
            lambda o: phase_is("Ready")(o) and o["status"]["readyReplicas"] == 3,
            what="3 ready replicas",
        )
    assert ready["status"]["selector"] == "app.kubernetes.io/name=llmkube,inference.llmkube.dev/service=chat"
    assert scaled["status"]["replicas"] == 3


async def test_scaling_to_zero_says_scaled_to_zero(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace)
        await patch_spec(kube, namespace, "chat", {"replicas": 0})
        zero = await wait_for(
            getter(kube, INFERENCE_SERVICES, "chat", namespace),
            lambda o: o["status"].get("replicas") == 0 and phase_is("ScaledToZero")(o),
            what="ScaledToZero at zero",
        )
    assert condition(zero, "Ready")["reason"] == "ScaledToZero"


async def test_autoscaling_on_creates_the_hpa_and_off_deletes_it(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    hpa = getter(kube, HORIZONTAL_POD_AUTOSCALERS, "chat", namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace, resources={"cpu": "1"})
        await patch_spec(kube, namespace, "chat", {"autoscaling": {"minReplicas": 1, "maxReplicas": 4}})
        created = await wait_for(hpa, lambda _: True, what="the HPA")
        deployment = await kube.get(DEPLOYMENTS, "chat", namespace=namespace)
        await patch_spec(kube, namespace, "chat", {"autoscaling": None})
        await wait_gone(hpa, what="the HPA deleted")
    assert created["spec"]["scaleTargetRef"]["name"] == "chat"
    assert created["spec"]["maxReplicas"] == 4
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"


REPLICA_SETS = Resource(group="apps", version="v1", plural="replicasets", kind="ReplicaSet", namespaced=True)


class ReplicaWatch:
    """Every `spec.replicas` the API server reports for the Deployments or ReplicaSets of a namespace, in order,
    by object name: a watch sees each change, where polling could miss a dip that lasts a moment."""

    def __init__(self, kube: KubeClient, resource: Resource, *, namespace: str) -> None:
        self._kube = kube
        self._resource = resource
        self._namespace = namespace
        self.seen: dict[str, list[int]] = {}
        self._versions: set[str] = set()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listed = await self._kube.list(self._resource, namespace=self._namespace)
        for obj in listed.items:
            self._record(obj)
        async with self._kube.watch(
            self._resource,
            namespace=self._namespace,
            resource_version=listed.resource_version,
            timeout_seconds=600,
        ) as stream:
            task_status.started()
            async for event in stream:
                if event.type in ("ADDED", "MODIFIED"):
                    self._record(event.object)

    def _record(self, obj: dict[str, Any]) -> None:
        self.seen.setdefault(obj["metadata"]["name"], []).append(obj["spec"]["replicas"])
        self._versions.add(obj["metadata"]["resourceVersion"])

    async def caught_up(self) -> None:
        """Returns once the watch has delivered the current version of every object."""
        current = (await self._kube.list(self._resource, namespace=self._namespace)).items
        wanted = {obj["metadata"]["resourceVersion"] for obj in current}

        async def versions() -> set[str]:
            return self._versions

        await wait_for(versions, lambda seen: wanted <= seen, what=f"{self._resource.plural} watch caught up")


async def test_turning_autoscaling_on_keeps_the_replicas_the_deployment_had(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    fetch = getter(kube, INFERENCE_SERVICES, "chat", namespace)
    deployments = ReplicaWatch(kube, DEPLOYMENTS, namespace=namespace)
    replica_sets = ReplicaWatch(kube, REPLICA_SETS, namespace=namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace, replicas=3, resources={"cpu": "1"})
        await wait_for(fetch, lambda o: o["status"].get("readyReplicas") == 3, what="3 ready replicas")
        async with anyio.create_task_group() as watches:
            await watches.start(deployments.run)
            await watches.start(replica_sets.run)
            await patch_spec(kube, namespace, "chat", {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}})
            # The HPA has acted once it reports conditions (there are no metrics here, so it cannot scale on
            # load; with the old behaviour its first sync raised the count from the defaulted 1 to minReplicas).
            hpa = await wait_for(
                getter(kube, HORIZONTAL_POD_AUTOSCALERS, "chat", namespace),
                lambda h: bool((h.get("status") or {}).get("conditions")),
                what="the HPA's first sync",
            )
            settled = await wait_for(
                getter(kube, DEPLOYMENTS, "chat", namespace),
                lambda d: d["status"].get("observedGeneration") == d["metadata"]["generation"],
                what="the Deployment controller to observe the change",
            )
            await deployments.caught_up()
            await replica_sets.caught_up()
            watches.cancel_scope.cancel()
    managers = {
        entry["manager"]
        for entry in settled["metadata"]["managedFields"]
        if "f:replicas" in entry["fieldsV1"].get("f:spec", {})
    }
    assert min(deployments.seen["chat"]) == 3, deployments.seen
    assert all(min(counts) >= 2 for counts in replica_sets.seen.values()), replica_sets.seen
    assert settled["spec"]["replicas"] == 3
    assert "llmkube" not in managers
    assert hpa["spec"]["minReplicas"] == 2


async def test_two_services_whose_names_sanitise_alike_fail_the_second_as_invalid_spec(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace, name="chat.v2")
        await create_all(kube, inference_service("chat-v2", namespace=namespace, model="tiny"))
        failed = await wait_for(
            getter(kube, INFERENCE_SERVICES, "chat-v2", namespace), phase_is("Failed"), what="Failed"
        )
    assert condition(failed, "Degraded")["reason"] == "InvalidSpec"
    assert "already controlled by InferenceService 'chat.v2'" in condition(failed, "Ready")["message"]


# -- the host agent -------------------------------------------------------------------------------------------


async def test_a_metal_service_gets_no_deployment_and_follows_the_agents_condition(
    kube: KubeClient, namespace: str, kubeconfig: Path
) -> None:
    isvc = inference_service("mac", namespace=namespace, model="tiny", accelerator={"type": "metal"})
    fetch = getter(kube, INFERENCE_SERVICES, "mac", namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await create_all(kube, hf_model("tiny", namespace=namespace), isvc)
        await make_model_ready(kube, "tiny", namespace=namespace)
        waiting = await wait_for(
            fetch, lambda o: condition(o, "Ready").get("reason") == "WaitingForHostAgent", what="agent wait"
        )
        serving = {
            "type": "HostServing",
            "status": "True",
            "reason": "Serving",
            "message": "llama-server on mac-mini-1",
            "lastTransitionTime": "2025-01-01T00:00:00Z",
        }
        await kube.apply_status(
            INFERENCE_SERVICES,
            {
                "apiVersion": "inference.llmkube.dev/v1alpha1",
                "kind": "InferenceService",
                "metadata": {"name": "mac", "namespace": namespace},
                "status": {"conditions": [serving]},
            },
            field_manager="llmkube-agent",
        )
        ready = await wait_for(fetch, phase_is("Ready"), what="Ready")
        with pytest.raises(NotFound):
            await kube.get(DEPLOYMENTS, "mac", namespace=namespace)
        with pytest.raises(NotFound):
            await kube.get(SERVICES, "mac", namespace=namespace)
    assert waiting["status"]["phase"] == "Deploying"
    assert condition(ready, "HostServing")["status"] == "True"
    assert condition(ready, "Ready")["reason"] == "ServedByHostAgent"


# -- monitoring -----------------------------------------------------------------------------------------------


#: A CRD no cluster serves. A controller watching for it sees what it sees where the Prometheus Operator is not
#: installed, whether or not the real ServiceMonitor CRD is (`service_monitor_crd_installed` leaves it installed).
ABSENT_SERVICE_MONITOR_CRD = "servicemonitors.absent.llmkube.dev"


async def test_monitoring_without_the_operator_crd_is_skipped_with_a_condition(
    kube: KubeClient, namespace: str, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isvc_wiring, "SERVICE_MONITOR_CRD", ABSENT_SERVICE_MONITOR_CRD)
    async with running_controller(kubeconfig, namespace=namespace):
        ready = await ready_service(kube, namespace, monitoring={"enabled": True})
    assert condition(ready, "Monitoring")["reason"] == "ServiceMonitorCRDMissing"
    assert "monitoring.coreos.com CRD is not installed" in condition(ready, "Monitoring")["message"]


@pytest.fixture(scope="module")
def service_monitor_crd_installed(api_crds: ClusterBase, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The real ServiceMonitor CRD, left installed: deleting and re-creating a CRD in quick succession makes the
    apiserver answer 429 or hang while the old storage is torn down."""
    manifest = tmp_path_factory.mktemp("crd") / "servicemonitors.json"
    manifest.write_text(json.dumps(service_monitor_crd()))
    api_crds.apply(manifest)
    api_crds.wait_for_crds([SERVICE_MONITOR_CRD])
    api_crds.kubectl("create", "namespace", CONFIG.dcgm_namespace, check=False)


async def test_monitoring_creates_both_service_monitors_and_deleting_the_service_removes_every_child(
    kube: KubeClient, namespace: str, kubeconfig: Path, service_monitor_crd_installed: None
) -> None:
    dcgm_name = f"{namespace}-gpu-dcgm"
    isvc = inference_service(
        "gpu",
        namespace=namespace,
        model="tiny",
        accelerator={"type": "nvidia", "gpuCount": 1},
        monitoring={"enabled": True},
        autoscaling={"metric": "requestsDeferred", "maxReplicas": 2},
    )
    own = getter(kube, SERVICE_MONITORS, "gpu", namespace)
    dcgm = getter(kube, SERVICE_MONITORS, dcgm_name, CONFIG.dcgm_namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await create_all(kube, hf_model("tiny", namespace=namespace), isvc)
        await make_model_ready(kube, "tiny", namespace=namespace)
        ready = await wait_for(
            getter(kube, INFERENCE_SERVICES, "gpu", namespace),
            lambda o: condition(o, "Monitoring").get("status") == "True",
            what="monitors applied",
        )
        own_monitor, dcgm_monitor = await own(), await dcgm()
        await kube.delete(INFERENCE_SERVICES, "gpu", namespace=namespace)
        for child in (own, dcgm, getter(kube, DEPLOYMENTS, "gpu", namespace)):
            await wait_gone(child, what="child deleted")
        for child in (
            getter(kube, SERVICES, "gpu", namespace),
            getter(kube, HORIZONTAL_POD_AUTOSCALERS, "gpu", namespace),
        ):
            await wait_gone(child, what="child deleted")
    assert condition(ready, "Monitoring")["message"].endswith("and DCGM GPU metrics")
    assert own_monitor["spec"]["selector"] == {"matchLabels": selector_labels("gpu")}
    assert dcgm_monitor["spec"]["selector"] == {"matchLabels": CONFIG.dcgm_selector}
    relabel = dcgm_monitor["spec"]["endpoints"][0]["metricRelabelings"][0]
    assert relabel["regex"] == f"{namespace};gpu-[a-z0-9]+-[a-z0-9]+"
    assert "ownerReferences" not in dcgm_monitor["metadata"]


async def test_turning_monitoring_off_deletes_both_service_monitors(
    kube: KubeClient, namespace: str, kubeconfig: Path, service_monitor_crd_installed: None
) -> None:
    spec = {"accelerator": {"type": "nvidia"}, "monitoring": {"enabled": True}}
    dcgm = getter(kube, SERVICE_MONITORS, f"{namespace}-chat-dcgm", CONFIG.dcgm_namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace, **spec)
        await wait_for(dcgm, lambda _: True, what="DCGM monitor")
        await patch_spec(kube, namespace, "chat", {"monitoring": {"enabled": False}})
        await wait_gone(dcgm, what="DCGM monitor deleted")
        await wait_gone(getter(kube, SERVICE_MONITORS, "chat", namespace), what="monitor deleted")
        done = await wait_for(
            getter(kube, INFERENCE_SERVICES, "chat", namespace),
            lambda o: not condition(o, "Monitoring"),
            what="Monitoring condition removed",
        )
    assert phase_is("Ready")(done)


async def test_a_dcgm_monitor_left_by_a_service_deleted_while_the_controller_was_down_is_swept(
    kube: KubeClient, namespace: str, kubeconfig: Path, service_monitor_crd_installed: None
) -> None:
    spec = {"accelerator": {"type": "nvidia"}, "monitoring": {"enabled": True}}
    dcgm = getter(kube, SERVICE_MONITORS, f"{namespace}-chat-dcgm", CONFIG.dcgm_namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_service(kube, namespace, **spec)
        await wait_for(dcgm, lambda _: True, what="DCGM monitor")
    await kube.delete(INFERENCE_SERVICES, "chat", namespace=namespace)
    await wait_gone(getter(kube, INFERENCE_SERVICES, "chat", namespace))
    assert await dcgm()
    async with running_controller(kubeconfig, namespace=namespace):
        await wait_gone(dcgm, what="orphaned DCGM monitor swept")


# -- InferencePool ------------------------------------------------------------------------------------------


def inference_pool_crd() -> dict[str, Any]:
    """A stand-in for the Gateway API Inference Extension's InferencePool CRD: the same names, version and
    required spec fields, with a loose schema. The real CRD ships in a Go module the module proxy reachable from
    here does not serve, and nothing here runs an Endpoint Picker that would read the rest."""
    port = {"type": "object", "properties": {"number": {"type": "integer", "minimum": 1, "maximum": 65535}}}
    spec = {
        "type": "object",
        "required": ["selector", "targetPorts"],
        "properties": {
            "selector": {
                "type": "object",
                "properties": {
                    "matchLabels": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "minProperties": 1,
                    }
                },
            },
            "targetPorts": {"type": "array", "minItems": 1, "maxItems": 8, "items": port},
            "endpointPickerRef": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "group": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "port": port,
                    "failureMode": {"type": "string", "enum": ["FailOpen", "FailClose"]},
                },
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        # A *.k8s.io group needs this annotation; the real CRD carries the approving pull request's URL.
        "metadata": {
            "name": INFERENCE_POOL_CRD,
            "annotations": {"api-approved.kubernetes.io": "unapproved, stand-in for tests"},
        },
        "spec": {
            "group": INFERENCE_POOLS.group,
            "names": {"kind": "InferencePool", "listKind": "InferencePoolList", "plural": "inferencepools"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": INFERENCE_POOLS.version,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": spec,
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                    "subresources": {"status": {}},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def inference_pool_crd_installed(api_crds: ClusterBase, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Left installed, like the ServiceMonitor CRD: re-creating a CRD right after deleting it makes the
    apiserver answer 429 or hang while the old storage is torn down."""
    manifest = tmp_path_factory.mktemp("crd") / "inferencepools.json"
    manifest.write_text(json.dumps(inference_pool_crd()))
    api_crds.apply(manifest)
    api_crds.wait_for_crds([INFERENCE_POOL_CRD])


async def test_each_service_served_by_pods_gets_an_inference_pool_and_loses_it_on_the_host_agent(
    kube: KubeClient, namespace: str, kubeconfig: Path, inference_pool_crd_installed: None
) -> None:
    pool = getter(kube, INFERENCE_POOLS, "chat", namespace)
    async with running_controller(kubeconfig, namespace=namespace):
        ready = await ready_service(kube, namespace)
        published = await wait_for(pool, lambda _: True, what="InferencePool")
        served = container(await getter(kube, DEPLOYMENTS, "chat", namespace)())
        await patch_spec(kube, namespace, "chat", {"accelerator": {"type": "host"}})
        await wait_gone(pool, what="InferencePool deleted once no pod serves the service")

    assert published["spec"]["selector"] == {"matchLabels": selector_labels("chat")}
    assert published["spec"]["targetPorts"] == [{"number": served["ports"][0]["containerPort"]}]
    assert published["metadata"]["ownerReferences"][0]["uid"] == ready["metadata"]["uid"]


# -- steady state ---------------------------------------------------------------------------------------------


async def until_quiet(client: CountingKubeClient, *, quiet_for: float, within: float) -> None:
    """Return once the controller has sent no write for `quiet_for` seconds."""
    with anyio.fail_after(within):
        while True:
            seen = len(client.writes)
            await anyio.sleep(quiet_for)
            if len(client.writes) == seen:
                return


def controller_writes(events: list[dict[str, Any]], *, namespace: str) -> list[str]:
    """The write requests the test's controller sent, as "verb resource/name", from audit events.

    Every controller of a test run names itself alike, so writes are also narrowed to the test's namespace
    (and cluster-scoped objects, which this controller never writes at rest).
    """
    program = user_agent(CONTROLLER_PROGRAM)
    return [
        f"{e['verb']} {e['objectRef'].get('resource')}/{e['objectRef'].get('name')}"
        for e in events
        if e.get("userAgent") == program
        and e["verb"] in WRITE_VERBS
        and e.get("objectRef", {}).get("namespace") in (namespace, None)
    ]


async def test_fifty_ready_services_cause_no_writes_for_a_minute(
    kube: KubeClient, namespace: str, kubeconfig: Path, local_cluster: ClusterBase
) -> None:
    names = [f"svc-{i:02d}" for i in range(50)]
    began = datetime.now(UTC)
    async with running_controller(kubeconfig, namespace=namespace) as (manager, client):
        await create_all(kube, hf_model("tiny", namespace=namespace))
        await make_model_ready(kube, "tiny", namespace=namespace)
        for name in names:
            await create_all(kube, inference_service(name, namespace=namespace, model="tiny"))

        async def all_services() -> list[dict[str, Any]]:
            return (await kube.list(INFERENCE_SERVICES, namespace=namespace)).items

        await wait_for(
            all_services,
            lambda items: len(items) == 50 and all(phase_is("Ready")(o) for o in items),
            within=240,
            what="50 Ready services",
        )
        await until_quiet(client, quiet_for=10.0, within=120.0)  # the last status writes and Events settle
        before = len(client.writes)
        window_start = datetime.now(UTC)
        await anyio.sleep(60)
        window_end = datetime.now(UTC)
        writes = client.writes[before:]
        ready_gauge = manager.registry.get_sample_value("llmkube_inferenceservices", {"phase": "Ready"})
    assert writes == []
    assert ready_gauge == 50
    # What the API server received, not only what the client counted: its audit log records every write.
    try:
        setup = local_cluster.audit_events(since=began, until=window_start)
    except AuditLogUnavailableError as err:
        warnings.warn(f"steady-state writes counted by the client only: {err}", stacklevel=1)
        return
    at_rest = local_cluster.audit_events(since=window_start, until=window_end)
    # The filter finds the controller: it wrote each service's Deployment and Service while they came up.
    assert (
        sum(w.startswith("patch deployments/") for w in controller_writes(setup, namespace=namespace)) >= 50
    )
    assert controller_writes(at_rest, namespace=namespace) == []
