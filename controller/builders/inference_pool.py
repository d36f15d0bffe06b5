"""The Gateway API Inference Extension's InferencePool for a service, where that extension is installed.

An InferencePool names a set of model-server pods (by label, in one namespace) and the port they serve on, so
that an inference-aware Gateway (Envoy, kgateway, GKE, Istio...) with an Endpoint Picker (EPP) can route to them
by load. Publishing one per service plugs llama.cpp into that ecosystem with no hand-written YAML: the pool
selects exactly the pods the service's own Service selects, on the same container port.

The Endpoint Picker is the user's (one per pool, from the extension's chart); the pool refers to it by the
chart's naming, the Service `<name>-epp` on port 9002. The EPP scrapes each pod's `/metrics`; llama-server's
names for what it needs are

- queued requests: `llamacpp:requests_deferred`
- running requests: `llamacpp:requests_processing`

(docs/gateway.md gives the EPP flags that say so). Services served by the host agent (`metal`, `host`) get no
pool: they have no pods to select.

Like ServiceMonitors, InferencePools are optional: without the CRD the controller creates none and says nothing
(the service works without one); with it, every Deployment-served service gets one, owned by the service.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.inferenceservice import HOST_ACCELERATORS, InferenceService
from api.v1alpha1.well_known import COMPONENT_INFERENCE_POOL
from controller.builders.labels import object_name, resource_name, selector_labels, serving_object_meta

INFERENCE_POOL_API = "inference.networking.k8s.io/v1"
#: The Endpoint Picker's gRPC port, as the extension's chart serves it.
ENDPOINT_PICKER_PORT = 9002
#: llama-server's Prometheus names for what an Endpoint Picker reads as queue depth and running requests.
QUEUED_REQUESTS_METRIC = "llamacpp:requests_deferred"
RUNNING_REQUESTS_METRIC = "llamacpp:requests_processing"


def endpoint_picker_name(isvc: InferenceService) -> str:
    return f"{resource_name(object_name(isvc))}-epp"


def desired_inference_pool(isvc: InferenceService) -> dict[str, Any] | None:
    """The InferencePool selecting `isvc`'s pods, or None when no pod serves it (host agent)."""
    if isvc.spec.accelerator.type in HOST_ACCELERATORS:
        return None
    return {
        "apiVersion": INFERENCE_POOL_API,
        "kind": "InferencePool",
        "metadata": serving_object_meta(isvc, component=COMPONENT_INFERENCE_POOL),
        "spec": {
            "selector": {"matchLabels": selector_labels(object_name(isvc))},
            "targetPorts": [{"number": isvc.spec.endpoint.port}],
            "endpointPickerRef": {
                "name": endpoint_picker_name(isvc),
                "port": {"number": ENDPOINT_PICKER_PORT},
            },
        },
    }
