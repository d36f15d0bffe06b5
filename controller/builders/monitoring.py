"""Prometheus Operator ServiceMonitors: llama.cpp metrics of a service, and its GPUs' DCGM metrics.

The llama.cpp monitor lives beside the service, selects the service's own Service by its selector labels, and
scrapes `/metrics` on the `http` port (the server runs with `--metrics`).

GPU metrics come from the NVIDIA DCGM exporter, a DaemonSet in another namespace (`gpu-operator` by default)
that reports every GPU of its node. With kubelet pod-resources enabled (the GPU operator's default) it labels each
series with the `pod`, `namespace` and `container` the GPU is assigned to. So the DCGM monitor scrapes the
exporter's Service and keeps only series whose `namespace` is this service's and whose `pod` is one of this
Deployment's pods (`<deployment>-<replicaset hash>-<suffix>`). Two details make that work:

- `honorLabels: true`: otherwise Prometheus renames the exporter's `pod`/`namespace` labels to `exported_pod` /
  `exported_namespace` (they clash with the target's own), and the keep rule would test the exporter pod instead.
- Relabel regexes are fully anchored RE2; resource names are DNS-1035 (`[a-z0-9-]`), so they need no escaping.
  The pattern requires exactly two segments after the Deployment name, so `chat` never claims `chat-v2`'s pods.
  Kubernetes cuts pod names of Deployments with names over ~45 characters, which this pattern then misses.

One monitor per GPU service scrapes the exporter once per service; that costs a scrape per service per interval,
and buys per-service series with no cluster-wide relabelling to maintain.

A ServiceMonitor in another namespace cannot carry an ownerReference to the InferenceService (cross-namespace
owners are invalid and garbage collection would delete the object at once). So it is labelled with its owner's
identity (`dcgm_owner_labels`), and the reconciler deletes it explicitly: when a reconcile finds the
InferenceService gone (or no longer on GPUs, or with monitoring disabled) it deletes the monitors matching the
owner's labels, and a sweep at start-up removes monitors whose owner no longer exists.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import ModelSpec
from api.v1alpha1.well_known import (
    APP_NAME,
    COMPONENT_GPU_MONITORING,
    COMPONENT_LABEL,
    COMPONENT_MONITORING,
    MANAGED_BY_LABEL,
    MANAGER,
    NAME_LABEL,
    OWNER_NAME_LABEL,
    OWNER_NAMESPACE_LABEL,
)
from controller.builders.labels import (
    dns1035_name,
    label_value,
    object_meta,
    object_name,
    object_namespace,
    resource_name,
    selector_labels,
    serving_object_meta,
)
from controller.builders.llama_args import gpu_count
from controller.config import ControllerConfig

SERVICE_MONITOR_API = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "15s"


def monitoring_enabled(isvc: InferenceService) -> bool:
    return isvc.spec.monitoring is not None and isvc.spec.monitoring.enabled


def desired_service_monitor(isvc: InferenceService) -> dict[str, Any] | None:
    """The ServiceMonitor for `isvc`'s llama.cpp metrics, or None when monitoring is off."""
    if not monitoring_enabled(isvc):
        return None
    name = object_name(isvc)
    return {
        "apiVersion": SERVICE_MONITOR_API,
        "kind": "ServiceMonitor",
        "metadata": serving_object_meta(isvc, component=COMPONENT_MONITORING),
        "spec": {
            "selector": {"matchLabels": selector_labels(name)},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }


def dcgm_owner_labels(*, namespace: str, name: str) -> dict[str, str]:
    """Labels naming the InferenceService a DCGM monitor belongs to; select by them to delete it."""
    return {
        MANAGED_BY_LABEL: MANAGER,
        COMPONENT_LABEL: COMPONENT_GPU_MONITORING,
        OWNER_NAMESPACE_LABEL: label_value(namespace),
        OWNER_NAME_LABEL: label_value(name),
    }


def dcgm_monitor_name(*, namespace: str, name: str) -> str:
    """Unique in the exporter's namespace, where monitors of every namespace meet."""
    return dns1035_name(f"{namespace}-{name}", suffix="-dcgm")


def dcgm_pod_regex(*, namespace: str, deployment: str) -> str:
    """Matches `<namespace>;<pod>` for the Deployment's pods (`<deployment>-<rs hash>-<suffix>`)."""
    return f"{namespace};{deployment}-[a-z0-9]+-[a-z0-9]+"


def desired_dcgm_monitor(
    *, isvc: InferenceService, model: ModelSpec | None, config: ControllerConfig
) -> dict[str, Any] | None:
    """The DCGM ServiceMonitor for an NVIDIA GPU service with monitoring on, else None (delete any existing)."""
    if not monitoring_enabled(isvc) or isvc.spec.accelerator.type != "nvidia":
        return None
    if gpu_count(isvc.spec, model) == 0:
        return None
    name = object_name(isvc)
    namespace = object_namespace(isvc)
    labels = {NAME_LABEL: APP_NAME, **dcgm_owner_labels(namespace=namespace, name=name)}
    return {
        "apiVersion": SERVICE_MONITOR_API,
        "kind": "ServiceMonitor",
        "metadata": object_meta(
            name=dcgm_monitor_name(namespace=namespace, name=name),
            namespace=config.dcgm_namespace,
            labels=labels,
            owner=None,
        ),
        "spec": {
            "selector": {"matchLabels": dict(config.dcgm_selector)},
            "namespaceSelector": {"matchNames": [config.dcgm_namespace]},
            "endpoints": [
                {
                    "port": config.dcgm_port,
                    "path": "/metrics",
                    "interval": SCRAPE_INTERVAL,
                    "honorLabels": True,
                    "metricRelabelings": [
                        {
                            "sourceLabels": ["namespace", "pod"],
                            "separator": ";",
                            "regex": dcgm_pod_regex(namespace=namespace, deployment=resource_name(name)),
                            "action": "keep",
                        }
                    ],
                }
            ],
        },
    }
