"""Which InferenceServices an event concerns: cache indexes, map functions and the primary predicate.

Everything here runs inside an informer's dispatch, so it only reads caches and returns requests.

- Models wake the services whose `spec.modelRef.name` names them (the `modelRef` index), so a Model turning
  Ready (a status patch) is what moves a waiting service on; nothing polls.
- Pods are found by the service label their template carries. Label values are names cut to 63 characters
  with a hash, so a pod is mapped back through an index of services by that label value, never by parsing it.
- The cross-namespace DCGM ServiceMonitor has no owner reference; it names its owner in an annotation (and,
  for short names, in labels), which maps its events back to the service.
- Nodes appearing, leaving or changing what they offer (labels, allocatable, taints, cordon) wake the services
  whose `Fits` condition is not True: a service that did not fit, or could not be checked, may fit now. Services
  that fit are not woken, so adding a node does not roll out every auto-sized service; their next pass for any
  other reason chooses again.
- A service whose Deployment is not cached yet is queued ahead of the others (`rollouts_first`): its pass is one
  write, while later passes wait for the API server to allocate a ClusterIP, so in a burst of new services every
  Deployment goes out before the queue turns to their Services.
- The primary predicate passes spec changes (a new generation) and changes of the `HostServing` condition, the
  one status field someone else (the host agent) writes that this controller reads. Our own status writes and
  everything else in status do not wake the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from api.objects import (
    Object,
    ObjectView,
    annotations_of,
    condition_of,
    labels_of,
    metadata,
    name_of,
    namespace_of,
)
from api.v1alpha1.well_known import (
    FITS,
    HOST_SERVING,
    MODEL_REF_FIELD,
    OWNER_ANNOTATION,
    OWNER_NAME_LABEL,
    OWNER_NAMESPACE_LABEL,
    SERVICE_LABEL,
)
from controller.builders.labels import label_value, resource_name
from controller.runtime.events import ObjectMapper, referrers, request_for
from controller.runtime.indexer import IndexFunc, field_index
from controller.runtime.request import Request
from controller.runtime.store import Store

#: Services by `<namespace>/<spec.modelRef.name>`, named after the field (the host agent keeps the same index).
BY_MODEL_REF = MODEL_REF_FIELD
#: Services by `<namespace>/<label value of their name>`, the value their pods carry in SERVICE_LABEL.
BY_SERVICE_LABEL = "serviceLabel"
#: Pods by `<namespace>/<SERVICE_LABEL value>`.
PODS_BY_SERVICE = "service"
#: DCGM ServiceMonitors by `<owner namespace>/<owner name>`.
MONITORS_BY_OWNER = "dcgmOwner"

model_ref_index: IndexFunc = field_index(MODEL_REF_FIELD)


def service_label_index(obj: ObjectView) -> list[str]:
    name = name_of(obj)
    return [f"{namespace_of(obj)}/{label_value(name)}"] if name else []


def pod_service_index(obj: ObjectView) -> list[str]:
    value = labels_of(obj).get(SERVICE_LABEL)
    return [f"{namespace_of(obj)}/{value}"] if value else []


def monitor_owner_index(obj: ObjectView) -> list[str]:
    owner = annotations_of(obj).get(OWNER_ANNOTATION)
    if owner:
        return [str(owner)]
    labels = labels_of(obj)
    namespace, name = labels.get(OWNER_NAMESPACE_LABEL), labels.get(OWNER_NAME_LABEL)
    return [f"{namespace}/{name}"] if namespace and name else []


#: The work-queue priority of a service that has no Deployment yet; every other request has 0.
FIRST_ROLLOUT_PRIORITY = 10


def rollouts_first(deployments: Store) -> Callable[[Request], int]:
    """Rank a request for a service without a cached Deployment ahead of the rest (the queue's `priority_of`)."""

    def priority_of(request: Request) -> int:
        if deployments.get_by_name(resource_name(request.name), request.namespace) is None:
            return FIRST_ROLLOUT_PRIORITY
        return 0

    return priority_of


def _request(key: str) -> Request:
    namespace, _, name = key.partition("/")
    return Request(namespace=namespace, name=name)


def services_of_model(services: Store) -> ObjectMapper:
    return referrers(services, BY_MODEL_REF)


def service_of_pod(services: Store) -> ObjectMapper:
    def map_pod(pod: ObjectView) -> list[Request]:
        return [
            request_for(svc)
            for key in pod_service_index(pod)
            for svc in services.by_index(BY_SERVICE_LABEL, key)
        ]

    return map_pod


def owner_of_dcgm_monitor(monitor: ObjectView) -> list[Request]:
    return [_request(key) for key in monitor_owner_index(monitor)]


def monitoring_services(services: Store) -> ObjectMapper:
    """Every service asking for monitoring: what a newly installed ServiceMonitor CRD concerns."""

    def map_crd(_crd: ObjectView) -> list[Request]:
        return [
            request_for(svc)
            for svc in services.list()
            if ((svc.get("spec") or {}).get("monitoring") or {}).get("enabled") is True
        ]

    return map_crd


def every_service(services: Store) -> ObjectMapper:
    """Every service: what a newly installed InferencePool CRD concerns (each one served by pods gets a pool)."""

    def map_crd(_crd: ObjectView) -> list[Request]:
        return [request_for(svc) for svc in services.list()]

    return map_crd


def unfit_services(services: Store) -> ObjectMapper:
    """Every service whose Fits condition is not True: what a change of the cluster's nodes concerns."""

    def map_node(_node: ObjectView) -> list[Request]:
        return [
            request_for(svc)
            for svc in services.list()
            if (condition_of(svc, FITS) or {}).get("status") != "True"
        ]

    return map_node


def _offer(node: ObjectView) -> tuple[Any, ...]:
    spec = node.get("spec") or {}
    return (
        dict(labels_of(node)),
        (node.get("status") or {}).get("allocatable"),
        spec.get("taints"),
        spec.get("unschedulable"),
    )


@attrs.frozen
class NodeOfferChanged:
    """Passes node updates that change what the node offers to pods; heartbeats and conditions do not."""

    def create(self, obj: Object) -> bool:
        return True

    def update(self, old: Object, new: Object) -> bool:
        return _offer(old) != _offer(new)

    def delete(self, obj: Object) -> bool:
        return True


@attrs.frozen
class SpecOrHostServingChanged:
    """Passes updates that change the spec or the host agent's `HostServing` condition."""

    def create(self, obj: Object) -> bool:
        return True

    def update(self, old: Object, new: Object) -> bool:
        if metadata(old).get("generation") != metadata(new).get("generation"):
            return True
        if metadata(old).get("deletionTimestamp") != metadata(new).get("deletionTimestamp"):
            return True
        before, after = condition_of(old, HOST_SERVING), condition_of(new, HOST_SERVING)
        return _serving_state(before) != _serving_state(after)

    def delete(self, obj: Object) -> bool:
        return True


def _serving_state(condition: ObjectView | None) -> tuple[Any, ...] | None:
    if condition is None:
        return None
    return (condition.get("status"), condition.get("reason"), condition.get("message"))
