"""The gateway as a user on the node reaches it: its Service's cluster IP (kube-proxy's rules cover the node's own
traffic too) and the real `openai` client. A second InferenceService on the install's Model gives the gateway
two pod-served services to route between, from the one downloaded file."""

from __future__ import annotations

from typing import Any

import openai

from hack.localcluster import LocalCluster
from tests.integration.realnode.workloads import apply, get

GATEWAY_SERVICE = "llmkube-gateway"


def gateway_client(cluster: LocalCluster, system_namespace: str) -> openai.OpenAI:
    """An OpenAI client whose base URL is the gateway Service's cluster IP (port 80, as in-cluster clients use)."""
    cluster_ip = get(cluster, system_namespace, f"service/{GATEWAY_SERVICE}")["spec"]["clusterIP"]
    return openai.OpenAI(base_url=f"http://{cluster_ip}/v1", api_key="unused", max_retries=0, timeout=120)


def second_service(cluster: LocalCluster, namespace: str, *, name: str, model: str) -> None:
    """Another CPU InferenceService serving the Model the install already downloaded."""
    manifest: dict[str, Any] = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"modelRef": {"name": model}, "accelerator": {"type": "cpu"}, "contextSize": 2048},
    }
    apply(cluster, namespace, manifest)


def ready_models(client: openai.OpenAI) -> dict[str, dict[str, Any]]:
    """The gateway's model list as {id: the gateway's fields (phase, ready_replicas, namespace, ...)}; raises
    AssertionError while the gateway cannot answer."""
    try:
        return {m.id: dict(m.model_extra or {}) for m in client.models.list()}
    except openai.APIError as error:
        raise AssertionError(f"the gateway's model list failed: {error}") from error
