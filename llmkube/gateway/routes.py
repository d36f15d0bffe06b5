"""A service as the gateway sees it: its name, phase, slots, and the endpoints its EndpointSlices list.

Pure functions of the cached objects. Endpoints come from EndpointSlices whatever wrote them: the endpointslice
controller for a Deployment's pods (which copies the Service's labels onto the slices) or the host agent for
`metal`/`host` services. The agent publishes loopback servers under an FQDN stand-in and the exact address in an
annotation; like `llmkube chat`, the gateway dials the annotated address when there is one.

An endpoint is ready when its slice says so (`ready` missing counts as ready, as the API defines); one that is
neither ready nor terminating is still loading, which is what keeps a service from being scaled to zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from api.v1alpha1.converter import WireError, from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.meta import SecretKeyRef
from api.v1alpha1.well_known import ADDRESS_ANNOTATION, LAST_REQUEST_ANNOTATION
from controller.builders.labels import resource_name
from controller.builders.llama_args import gpu_count, parallel_slots

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PORT_NAME = "http"

Object = Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Upstream:
    host: str
    port: int

    @property
    def key(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        """host:port as a URL or a Host header writes it (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}"


@attrs.frozen(kw_only=True)
class Route:
    namespace: str
    name: str
    #: status.phase, or Pending before the controller first wrote it.
    phase: str
    #: spec.replicas: what the service should run (the scale subresource's spec).
    replicas: int
    slots: int
    ready: tuple[Upstream, ...]
    #: Endpoints neither ready nor terminating: servers that are starting or loading their model.
    loading: int
    #: spec.scaleToZero.idleSeconds, or None when the service does not opt in.
    idle_seconds: int | None
    #: Unix time of the last request any gateway replica recorded, from the annotation.
    last_request: float | None
    resource_version: str
    created: str | None
    #: spec.apiKeySecretRef: the Secret key holding the API key its servers require (None: no key).
    api_key: SecretKeyRef | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def capacity(self) -> int:
        """Requests the service runs at once: slots on every ready replica. None at zero replicas: endpoints
        still listed then belong to servers on their way out."""
        return self.slots * len(self.ready) if self.replicas > 0 else 0

    @property
    def scales_to_zero(self) -> bool:
        return self.idle_seconds is not None

    @property
    def still_loading(self) -> bool:
        """A replica is wanted but not ready yet, and the service has not failed: a server is on its way."""
        if self.phase == "Failed":
            return False
        return self.loading > 0 or len(self.ready) < self.replicas


class InvalidService(ValueError):
    """The cached InferenceService does not parse; the gateway cannot route to it."""


def service_name_of(isvc: Object) -> str:
    """The Kubernetes Service (and EndpointSlice label) an InferenceService is published under."""
    return resource_name(str(isvc["metadata"]["name"]))


def route_of(isvc: Object, slices: Iterable[Object]) -> Route:
    try:
        parsed = from_wire(dict(isvc), InferenceService)
    except WireError as exc:
        raise InvalidService(str(exc)) from exc
    meta = parsed.metadata
    spec = parsed.spec
    status = parsed.status
    gpus = status.gpu_count if status is not None and status.gpu_count is not None else gpu_count(spec, None)
    ready, loading = endpoints_of(slices)
    annotations = meta.annotations or {}
    return Route(
        namespace=str(meta.namespace),
        name=str(meta.name),
        phase=(status.phase if status is not None else None) or "Pending",
        replicas=spec.replicas,
        slots=parallel_slots(spec, gpus=gpus),
        ready=ready,
        loading=loading,
        idle_seconds=spec.scale_to_zero.idle_seconds if spec.scale_to_zero is not None else None,
        last_request=parse_time(annotations.get(LAST_REQUEST_ANNOTATION)),
        resource_version=str(meta.resource_version or ""),
        created=meta.creation_timestamp,
        api_key=spec.api_key_secret_ref,
    )


def endpoints_of(slices: Iterable[Object]) -> tuple[tuple[Upstream, ...], int]:
    """(ready upstreams, count of loading endpoints) over every slice of one Service, without duplicates."""
    ready: dict[str, Upstream] = {}
    loading = 0
    for slice_ in slices:
        port = _port_of(slice_)
        if port is None:
            continue
        exact = ((slice_.get("metadata") or {}).get("annotations") or {}).get(ADDRESS_ANNOTATION)
        for endpoint in slice_.get("endpoints") or ():
            conditions = endpoint.get("conditions") or {}
            addresses = endpoint.get("addresses") or []
            if not addresses:
                continue
            if conditions.get("ready") is False:
                if not conditions.get("terminating"):
                    loading += 1
                continue
            upstream = Upstream(host=str(exact or addresses[0]), port=port)
            ready[upstream.key] = upstream
    return tuple(ready[key] for key in sorted(ready)), loading


def _port_of(slice_: Object) -> int | None:
    ports = slice_.get("ports") or []
    for port in ports:
        if port.get("name") == PORT_NAME and port.get("port"):
            return int(port["port"])
    for port in ports:
        if port.get("port"):
            return int(port["port"])
    return None


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
