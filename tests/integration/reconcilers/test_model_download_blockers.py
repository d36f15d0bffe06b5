"""A download pod that cannot start, as the real scheduler and PV binder leave it: the Model says why, in the
scheduler's words, instead of "downloading" for a whole attempt; and no Event repeats a state as a transition."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from controller.kube import KubeClient, NotFound
from controller.kube.resources import MODELS, NAMESPACES, PERSISTENT_VOLUME_CLAIMS
from hack.localcluster import ClusterBase
from tests.integration.events import event_messages, event_reasons, self_transitions
from tests.integration.namespaces import restricted_namespace
from tests.integration.reconcilers.model_harness import (
    condition,
    model_manifest,
    model_test_config,
    running_model_controller,
    wait_for,
)

pytestmark = pytest.mark.cluster

#: Nothing listens on the discard port; the download never gets that far anyway.
SOURCE = {"url": "http://127.0.0.1:9/blocked/model.gguf"}
NO_SUCH_NODE = {"llmkube.dev/no-such-node": "true"}


@pytest.fixture(scope="module")
def crds(local_cluster: ClusterBase) -> ClusterBase:
    local_cluster.install_crds()
    return local_cluster


@pytest.fixture
async def kube(kubeconfig: Path, crds: ClusterBase) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient, local_cluster: ClusterBase) -> AsyncIterator[str]:
    name = f"blocked-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    # The cache claim of the unschedulable case must bind, so its volume cannot be the shared pool's last one.
    await anyio.to_thread.run_sync(lambda: local_cluster.add_persistent_volumes(capacity="10Gi"))
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


def blocked_by(reason: str) -> Any:
    def check(model: dict[str, Any]) -> bool:
        return (model.get("status") or {}).get("phase") == "Pending" and condition(model, "Ready").get(
            "reason"
        ) == reason

    return check


async def test_an_unschedulable_download_pod_is_reported_with_the_schedulers_message(
    kube: KubeClient, kubeconfig: Path, namespace: str
) -> None:
    config = model_test_config(fetch_node_selector=NO_SUCH_NODE)
    async with running_model_controller(kubeconfig, namespace=namespace, config=config):
        await kube.create(MODELS, model_manifest("stuck", namespace=namespace, source=SOURCE))
        stuck = await wait_for(
            lambda: kube.get(MODELS, "stuck", namespace=namespace),
            blocked_by("Unschedulable"),
            what="Model stuck Pending: Unschedulable",
        )
        await wait_for(
            lambda: event_reasons(kube, namespace, "stuck"),
            lambda reasons: "Unschedulable" in reasons,
            what="an Unschedulable Event",
        )
        messages = await event_messages(kube, namespace, "stuck")
    ready, degraded = condition(stuck, "Ready"), condition(stuck, "Degraded")
    assert "node affinity/selector" in ready["message"], ready
    assert "cannot be scheduled" in ready["message"]
    assert (degraded["status"], degraded["reason"]) == ("True", "Unschedulable")
    assert "progress" not in stuck["status"]
    assert self_transitions(messages) == []


async def test_a_cache_claim_whose_storage_class_does_not_exist_is_reported_as_not_bound(
    kube: KubeClient, kubeconfig: Path, namespace: str
) -> None:
    config = model_test_config(fetch_node_selector={}, model_cache_storage_class="no-such-class")
    async with running_model_controller(kubeconfig, namespace=namespace, config=config):
        await kube.create(MODELS, model_manifest("unbound", namespace=namespace, source=SOURCE))
        unbound = await wait_for(
            lambda: kube.get(MODELS, "unbound", namespace=namespace),
            blocked_by("VolumeNotBound"),
            what="Model unbound Pending: VolumeNotBound",
        )
    message = condition(unbound, "Ready")["message"]
    assert "'llmkube-model-cache' is Pending, not bound" in message
    assert "StorageClass 'no-such-class'" in message
    assert "the scheduler says:" in message
    assert condition(unbound, "Degraded")["reason"] == "VolumeNotBound"


async def test_a_pvc_source_claim_that_is_missing_then_pending_is_reported_by_name(
    kube: KubeClient, kubeconfig: Path, namespace: str
) -> None:
    source = {"pvc": {"claimName": "weights", "path": "models/model.gguf"}}
    config = model_test_config(fetch_node_selector={})
    async with running_model_controller(kubeconfig, namespace=namespace, config=config):
        await kube.create(MODELS, model_manifest("air-gapped", namespace=namespace, source=source))
        missing = await wait_for(
            lambda: kube.get(MODELS, "air-gapped", namespace=namespace),
            blocked_by("VolumeNotBound"),
            what="Model air-gapped Pending: VolumeNotBound",
        )
        await kube.create(
            PERSISTENT_VOLUME_CLAIMS,
            {
                "metadata": {"name": "weights", "namespace": namespace},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "no-such-class",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        pending = await wait_for(
            lambda: kube.get(MODELS, "air-gapped", namespace=namespace),
            lambda model: "is Pending, not bound" in condition(model, "Ready").get("message", ""),
            what="Model air-gapped naming its Pending source claim",
        )
    assert "source claim 'weights' does not exist" in condition(missing, "Ready")["message"]
    assert "spec.source.pvc.claimName" in condition(missing, "Ready")["message"]
    message = condition(pending, "Ready")["message"]
    assert "model source claim 'weights' is Pending" in message
    assert "StorageClass 'no-such-class'" in message
