"""The HorizontalPodAutoscaler (autoscaling/v2) for an InferenceService with `spec.autoscaling`.

Two signals, because they suit different servers:

- `cpu`: average CPU utilisation against the pods' CPU request (default target 80%). Right for CPU inference;
  it needs `resources.cpu` set, since utilisation is relative to the request.
- `requestsDeferred`: llama.cpp's `llamacpp:requests_deferred` gauge, requests waiting for a free slot, averaged
  per pod (default target 2). Right for GPU inference, where CPU stays low while clients queue. It needs a
  custom-metrics adapter (e.g. prometheus-adapter) exposing the gauge as a Pods metric under the configured name.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.inferenceservice import Autoscaling, InferenceService
from controller.builders.labels import (
    object_name,
    resource_name,
    serving_object_meta,
)
from controller.config import ControllerConfig

DEFAULT_CPU_UTILIZATION = 80
DEFAULT_REQUESTS_DEFERRED = 2


def autoscaling_metric(autoscaling: Autoscaling, config: ControllerConfig) -> dict[str, Any]:
    if autoscaling.metric == "requestsDeferred":
        target = autoscaling.target or DEFAULT_REQUESTS_DEFERRED
        return {
            "type": "Pods",
            "pods": {
                "metric": {"name": config.requests_deferred_metric},
                "target": {"type": "AverageValue", "averageValue": str(target)},
            },
        }
    return {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {
                "type": "Utilization",
                "averageUtilization": autoscaling.target or DEFAULT_CPU_UTILIZATION,
            },
        },
    }


def desired_autoscaler(*, isvc: InferenceService, config: ControllerConfig) -> dict[str, Any] | None:
    """The HPA scaling `isvc`'s Deployment, or None when `spec.autoscaling` is not set."""
    autoscaling = isvc.spec.autoscaling
    if autoscaling is None:
        return None
    name = object_name(isvc)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": serving_object_meta(isvc),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": resource_name(name)},
            "minReplicas": autoscaling.min_replicas,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [autoscaling_metric(autoscaling, config)],
        },
    }
