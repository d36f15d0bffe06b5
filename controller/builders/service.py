"""The Service in front of an InferenceService's pods, and the endpoint URL status reports.

`status.endpoint` is the OpenAI-compatible base URL inside the cluster, `http://<svc>.<ns>.svc.cluster.local:
<port>/v1`: clients append `/chat/completions`, `/completions`, `/embeddings` or `/models` to it, as every OpenAI
SDK does with its `base_url`. It is the cluster DNS form even for NodePort and LoadBalancer services, because it is
the one address that is always known and reachable from other pods; external addresses live on the Service.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.inferenceservice import InferenceService
from controller.builders.labels import (
    object_name,
    object_namespace,
    resource_name,
    selector_labels,
    serving_object_meta,
)

OPENAI_BASE_PATH = "/v1"


def endpoint_url(*, service_name: str, namespace: str, port: int) -> str:
    return f"http://{service_name}.{namespace}.svc.cluster.local:{port}{OPENAI_BASE_PATH}"


def service_endpoint(isvc: InferenceService) -> str:
    """The `status.endpoint` of `isvc`: the base URL of its OpenAI-compatible API inside the cluster."""
    return endpoint_url(
        service_name=resource_name(object_name(isvc)),
        namespace=object_namespace(isvc),
        port=isvc.spec.endpoint.port,
    )


def desired_service(isvc: InferenceService) -> dict[str, Any]:
    """The Service selecting `isvc`'s pods, of the type and port `spec.endpoint` asks for."""
    name = object_name(isvc)
    endpoint = isvc.spec.endpoint
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": serving_object_meta(isvc),
        "spec": {
            "type": endpoint.type,
            "selector": selector_labels(name),
            "ports": [{"name": "http", "port": endpoint.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
