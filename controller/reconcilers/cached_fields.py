"""What the controllers keep of each kind they cache: the fields their reconcilers, mappers and indexes read.

Applied as informer transforms (controller.runtime.transform), before the store, so a controller watching a
thousand services holds a thousand trimmed Deployments and pods rather than the API server's full objects.

Every kind loses the API server's bookkeeping that no reconciler reads:

- `metadata.managedFields`, except on Deployments, where it shrinks to the one fact the `replicas` handoff needs:
  which Apply managers own `spec.replicas` (controller.builders.replicas_handoff.applies_replicas);
- the `kubectl.kubernetes.io/last-applied-configuration` annotation, a second copy of the object as a string;
- `metadata.selfLink` and `generateName`, never read.

Kinds read in detail keep only what is read:

- Deployment: `spec.replicas` and `status` (the service's verdict and the handoff), metadata;
- Pod (serving and download pods): `status` (scheduling, crash loops, the fetcher's result) and metadata. The
  spec, with its containers, volumes and tolerations, is read by nobody once the pod exists;
- CustomResourceDefinition (only the ServiceMonitor one is watched): `status.conditions` (is it Established?).
  Its spec is the CRD's whole OpenAPI schema.

Everything else (our own kinds, read whole by `from_wire`; Services, HPAs, Jobs, claims, RBAC objects) keeps all
but the bookkeeping. tests/unit/reconcilers/test_cached_fields.py runs every reader of these caches on full and on
trimmed objects and checks that they decide the same: a reader of a dropped field fails it.
"""

from __future__ import annotations

from typing import Any

from controller.kube import Resource
from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, DEPLOYMENTS, PODS
from controller.runtime.informer import Informer
from controller.runtime.manager import Manager
from controller.runtime.transform import KEEP, OTHERS, KeepList, Transform, interned, keeping

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"


def _annotations(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    kept = {k: v for k, v in value.items() if k != LAST_APPLIED_ANNOTATION}
    return interned(kept) if kept else None


def _replicas_owners(value: Any) -> Any:
    """managedFields reduced to the Apply entries on the main resource that own `spec.replicas`."""
    owners: list[dict[str, Any]] = []
    for entry in value if isinstance(value, list) else ():
        if not isinstance(entry, dict) or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        spec = ((entry.get("fieldsV1") or {}).get("f:spec")) or {}
        if "f:replicas" in spec:
            owners.append(
                {
                    "manager": entry.get("manager"),
                    "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                }
            )
    return interned(owners) if owners else None


#: Metadata every reader may look at; `managedFields` is not among them.
METADATA: KeepList = {
    "name": KEEP,
    "namespace": KEEP,
    "uid": KEEP,
    "resourceVersion": KEEP,
    "generation": KEEP,
    "creationTimestamp": KEEP,
    "deletionTimestamp": KEEP,
    "labels": KEEP,
    "annotations": _annotations,
    "ownerReferences": KEEP,
    "finalizers": KEEP,
}

#: All of the object but the API server's bookkeeping.
WHOLE: KeepList = {OTHERS: KEEP, "metadata": METADATA}

DEPLOYMENT: KeepList = {
    "apiVersion": KEEP,
    "kind": KEEP,
    "metadata": {**METADATA, "managedFields": _replicas_owners},
    "spec": {"replicas": KEEP},
    "status": KEEP,
}

POD: KeepList = {"apiVersion": KEEP, "kind": KEEP, "metadata": METADATA, "status": KEEP}

CUSTOM_RESOURCE_DEFINITION: KeepList = {
    "apiVersion": KEEP,
    "kind": KEEP,
    "metadata": METADATA,
    "status": {"conditions": KEEP},
}

KEEP_LISTS: dict[Resource, KeepList] = {
    DEPLOYMENTS: DEPLOYMENT,
    PODS: POD,
    CUSTOM_RESOURCE_DEFINITIONS: CUSTOM_RESOURCE_DEFINITION,
}

_WHOLE_TRANSFORM = keeping(WHOLE)
_TRANSFORMS: dict[Resource, Transform] = {resource: keeping(keep) for resource, keep in KEEP_LISTS.items()}


def cached_fields(resource: Resource) -> Transform:
    """The transform for `resource`'s informers: one function per kind, so shared informers agree on it."""
    return _TRANSFORMS.get(resource, _WHOLE_TRANSFORM)


def cached_informer(mgr: Manager, resource: Resource, **options: Any) -> Informer:
    """`mgr`'s shared informer for `resource`, trimmed to what the controllers read of that kind."""
    return mgr.informer(resource, transform=cached_fields(resource), **options)
