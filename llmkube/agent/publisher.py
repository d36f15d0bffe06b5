"""How the cluster reaches a host's server: a selector-less Service plus an EndpointSlice naming the host.

The Service has the name and port the InferenceService reconciler would give a pod-backed one (so
`status.endpoint` is the same URL either way) but no selector: the endpointslice controller leaves it alone and
the agent writes the one EndpointSlice, labelled `kubernetes.io/service-name` so kube-proxy and DNS tie it to the
Service. The slice carries the server's real port (which differs per host) and a `ready` condition from the
last /health probe, so traffic stops while a server restarts. Clients that cannot use the Service's virtual IP
(the apiserver proxy refuses loopback endpoints) read the slice themselves.

The apiserver rejects loopback addresses in EndpointSlices (and Endpoints). An agent published on loopback
(a single machine running cluster and host together, as in tests and the local demo) therefore writes an FQDN
slice naming `agent.localhost` (RFC 6761: `.localhost` names are loopback) and, like every slice it writes, the
exact address in the `inference.llmkube.dev/address` annotation, which clients that dial the slice themselves
(`llmkube chat`) prefer. kube-proxy ignores FQDN slices, which costs nothing: no pod could reach a host's
loopback anyway.

Both objects are owned by the InferenceService (garbage collection removes them if the agent is gone) and
labelled `app.kubernetes.io/managed-by: llmkube-agent`, which is also what the agent's informers select on.
Writes are server-side applies under `llmkube-agent`, sent only when the cached object differs from the intent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from api.objects import Object, key_of, namespace_of
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.well_known import ADDRESS_ANNOTATION, AGENT_MANAGER, HOST_ANNOTATION, MANAGED_BY_LABEL
from controller.builders.labels import (
    dns1035_name,
    object_name,
    object_namespace,
    owner_reference,
    resource_name,
    service_labels,
)
from controller.kube import KubeClient, NotFound, Resource
from controller.kube.resources import ENDPOINT_SLICES, SERVICES
from controller.runtime.store import Store
from llmkube.agent.caches import Caches

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
LOOPBACK_FQDN = "agent.localhost"
PORT_NAME = "http"


def slice_name(isvc_name: str) -> str:
    return dns1035_name(isvc_name, suffix="-host")


def agent_labels(isvc: InferenceService) -> dict[str, str]:
    labels = service_labels(isvc_name=object_name(isvc), model_name=isvc.spec.model_ref.name)
    return {**labels, MANAGED_BY_LABEL: AGENT_MANAGER}


def desired_service(isvc: InferenceService, *, host: str) -> Object:
    endpoint = isvc.spec.endpoint
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": resource_name(object_name(isvc)),
            "namespace": object_namespace(isvc),
            "labels": agent_labels(isvc),
            "annotations": {HOST_ANNOTATION: host},
            "ownerReferences": [owner_reference(isvc)],
        },
        "spec": {
            "type": endpoint.type,
            "ports": [{"name": PORT_NAME, "port": endpoint.port, "protocol": "TCP"}],
        },
    }


def slice_address(address: str) -> tuple[str, str]:
    """(addressType, address) for a host address, with the FQDN stand-in for loopback."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return "FQDN", LOOPBACK_FQDN
    return ("IPv6" if ip.version == 6 else "IPv4"), str(ip)


def desired_endpoint_slice(
    isvc: InferenceService, *, address: str, port: int, ready: bool, host: str
) -> Object:
    service = resource_name(object_name(isvc))
    address_type, published = slice_address(address)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": slice_name(object_name(isvc)),
            "namespace": object_namespace(isvc),
            "labels": {
                **agent_labels(isvc),
                SERVICE_NAME_LABEL: service,
                SLICE_MANAGED_BY_LABEL: AGENT_MANAGER,
            },
            "annotations": {HOST_ANNOTATION: host, ADDRESS_ANNOTATION: address},
            "ownerReferences": [owner_reference(isvc)],
        },
        "addressType": address_type,
        "endpoints": [
            {
                "addresses": [published],
                "conditions": {"ready": ready, "serving": ready, "terminating": False},
            }
        ],
        "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
    }


def contains(actual: Any, desired: Any) -> bool:
    """Whether `actual` (as stored, with server defaults) already holds everything in `desired`."""
    if isinstance(desired, Mapping):
        return isinstance(actual, Mapping) and all(contains(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    return bool(actual == desired)


class Publisher:
    """Applies and deletes the agent's Services and EndpointSlices, reading current state from informer stores."""

    def __init__(self, client: KubeClient, *, caches: Caches) -> None:
        self._client = client
        self._caches = caches

    async def publish_service(self, desired: Object) -> bool:
        return await self._apply(SERVICES, self._caches.agent_services_in(_namespace(desired)), desired)

    async def publish_slice(self, desired: Object) -> bool:
        return await self._apply(ENDPOINT_SLICES, self._caches.slices_in(_namespace(desired)), desired)

    async def withdraw_slice(self, *, namespace: str, isvc_name: str, cached_only: bool = True) -> bool:
        name = slice_name(isvc_name)
        store = self._caches.slices_in(namespace)
        return await self._delete(ENDPOINT_SLICES, store, namespace, name, cached_only=cached_only)

    async def withdraw_service(self, *, namespace: str, isvc_name: str) -> bool:
        name = resource_name(isvc_name)
        store = self._caches.agent_services_in(namespace)
        return await self._delete(SERVICES, store, namespace, name, cached_only=True)

    async def _apply(self, resource: Resource, store: Store, desired: Object) -> bool:
        if contains(store.get(key_of(desired)), desired):
            return False
        await self._client.apply(resource, desired, field_manager=AGENT_MANAGER, force=True)
        return True

    async def _delete(
        self, resource: Resource, store: Store, namespace: str, name: str, *, cached_only: bool
    ) -> bool:
        """Delete ours; with `cached_only`, only what the label-filtered informer shows (so never a foreign one)."""
        if cached_only and store.get(f"{namespace}/{name}") is None:
            return False
        try:
            await self._client.delete(resource, name, namespace=namespace)
        except NotFound:
            return False
        return True


def _namespace(obj: Object) -> str:
    return namespace_of(obj)
