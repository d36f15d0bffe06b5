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
identity (`dcgm_owner_labels`) and annotated with it exactly (labels are cut and hashed past 63 characters), and
the reconciler deletes it explicitly: when a reconcile finds the InferenceService gone (or no longer on GPUs, or
with monitoring disabled) it deletes the monitors naming that owner, and a sweep at start-up removes monitors
whose owner no longer exists.

ServiceMonitors are optional: without the Prometheus Operator's CRD none can be created, and the `Monitoring`
condition says so rather than failing the service (`monitoring_condition`).
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
    MONITORING,
    NAME_LABEL,
    OWNER_ANNOTATION,
    OWNER_NAME_LABEL,
    OWNER_NAMESPACE_LABEL,
)
from controller.builders.api_key import scrape_authorization
from controller.builders.conditions import DesiredCondition
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
            "endpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    "interval": SCRAPE_INTERVAL,
                    **scrape_authorization(isvc.spec.api_key_secret_ref),
                }
            ],
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
    metadata = object_meta(
        name=dcgm_monitor_name(namespace=namespace, name=name),
        namespace=config.dcgm_namespace,
        labels=labels,
        owner=None,
    )
    metadata["annotations"] = {OWNER_ANNOTATION: f"{namespace}/{name}"}
    return {
        "apiVersion": SERVICE_MONITOR_API,
        "kind": "ServiceMonitor",
        "metadata": metadata,
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


def monitoring_condition(
    *,
    isvc: InferenceService,
    crd_installed: bool,
    serving: bool,
    dcgm: bool,
    missing_dcgm_namespace: str | None = None,
) -> DesiredCondition | None:
    """The `Monitoring` condition: whether the ServiceMonitors are in place, or why not; None with monitoring off.

    `dcgm` says a DCGM monitor is wanted; `missing_dcgm_namespace` names the exporter's namespace when applying
    it failed because that namespace does not exist.
    """
    if not monitoring_enabled(isvc):
        return None
    if not crd_installed:
        return DesiredCondition(
            type=MONITORING,
            status="False",
            reason="ServiceMonitorCRDMissing",
            message="ServiceMonitors skipped: the monitoring.coreos.com CRD is not installed; "
            "install the Prometheus Operator (or its CRDs) and they are created automatically",
        )
    if not serving:
        message = "ServiceMonitors are created once the service is deployed"
        return DesiredCondition(type=MONITORING, status="False", reason="Waiting", message=message)
    applied = "ServiceMonitor for llama.cpp metrics" + (" and DCGM GPU metrics" if dcgm else "")
    if missing_dcgm_namespace is not None:
        applied += (
            f"; GPU metrics not scraped: namespace '{missing_dcgm_namespace}' of the DCGM exporter does not "
            "exist (set the controller's DCGM namespace)"
        )
    return DesiredCondition(type=MONITORING, status="True", reason="ServiceMonitorsApplied", message=applied)
