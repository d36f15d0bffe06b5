"""Finding an InferenceService's server from this machine: a direct address when one answers, else a
port-forward to a Ready pod through the Kubernetes API.

Order, cheapest first:
1. Services without a selector (the host agent's, for `metal`/`host` services) publish their server in
   EndpointSlices; the agent puts the exact address in an annotation, because the apiserver refuses loopback
   addresses in the slice itself. Ready endpoints are tried with a quick TCP connect.
2. NodePort and LoadBalancer Services: node addresses with the node port, then load-balancer ingress.
3. Otherwise a port-forward (websocket, `controller.kube.portforward`) to a Ready pod behind the Service, open for
   as long as the command runs.

Pod IPs of a selector-backed Service are never dialled directly: from outside the cluster they are rarely
routable, and a connect to one can hang for the whole timeout.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager

import anyio
import attrs

from api.objects import (
    Object,
    annotations_of,
    condition_of,
    is_terminating,
    metadata,
    name_of,
    namespace_of,
    status_of,
)
from api.v1alpha1.inferenceservice import HOST_ACCELERATORS, InferenceService
from api.v1alpha1.well_known import ADDRESS_ANNOTATION, READY
from controller.builders.labels import resource_name
from controller.kube import NotFound
from controller.kube.portforward import forward_pod_port
from controller.kube.resources import ENDPOINT_SLICES, INFERENCE_SERVICES, NODES, PODS, SERVICES
from llmkube.cli.cluster import Cluster, ClusterTarget, connect, is_missing_kind
from llmkube.cli.endpoint import Endpoint, EndpointNotFound, ServiceRef
from llmkube.cli.views import find_condition, parse_service
from llmkube.inference import InferenceError

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
CONNECT_TIMEOUT_S = 1.0


@attrs.frozen(kw_only=True)
class Address:
    host: str
    port: int
    via: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _slice_port(slice_: Object, service_port: Object) -> int | None:
    ports = slice_.get("ports") or []
    wanted = service_port.get("name")
    for port in ports:
        if port.get("port") and (not wanted or port.get("name") == wanted):
            return int(port["port"])
    return int(ports[0]["port"]) if ports and ports[0].get("port") else None


def slice_addresses(slices: Iterable[Object], service_port: Object) -> list[Address]:
    """Ready endpoints of the slices, the annotated exact address first."""
    found: list[Address] = []
    for slice_ in slices:
        port = _slice_port(slice_, service_port)
        if port is None:
            continue
        name = name_of(slice_)
        exact = annotations_of(slice_).get(ADDRESS_ANNOTATION)
        ready = [
            e
            for e in slice_.get("endpoints") or ()
            if (e.get("conditions") or {}).get("ready", True) is not False
        ]
        if not ready:
            continue
        if exact:
            found.append(Address(host=exact, port=port, via=f"EndpointSlice {name}"))
        for endpoint in ready:
            for address in endpoint.get("addresses") or ():
                found.append(Address(host=address, port=port, via=f"EndpointSlice {name}"))
    return _unique(found)


def node_port_addresses(nodes: Iterable[Object], service_port: Object) -> list[Address]:
    node_port = service_port.get("nodePort")
    if not node_port:
        return []
    found = []
    for node in nodes:
        for address in status_of(node).get("addresses") or ():
            if address.get("type") in ("ExternalIP", "InternalIP"):
                found.append(
                    Address(
                        host=address["address"],
                        port=int(node_port),
                        via=f"NodePort {node_port} on node {node['metadata']['name']}",
                    )
                )
    return _unique(found)


def load_balancer_addresses(service: Object, service_port: Object) -> list[Address]:
    found = []
    for ingress in (status_of(service).get("loadBalancer") or {}).get("ingress") or ():
        host = ingress.get("ip") or ingress.get("hostname")
        if host:
            found.append(Address(host=host, port=int(service_port["port"]), via="LoadBalancer ingress"))
    return found


def _unique(addresses: list[Address]) -> list[Address]:
    seen: set[tuple[str, int]] = set()
    unique = []
    for address in addresses:
        if (address.host, address.port) not in seen:
            seen.add((address.host, address.port))
            unique.append(address)
    return unique


async def first_reachable(candidates: Iterable[Address]) -> Address | None:
    for candidate in candidates:
        with contextlib.suppress(OSError, TimeoutError):
            with anyio.fail_after(CONNECT_TIMEOUT_S):
                stream = await anyio.connect_tcp(candidate.host, candidate.port)
            await stream.aclose()
            return candidate
    return None


def service_port_of(service: Object, isvc: InferenceService) -> Object:
    ports = service.get("spec", {}).get("ports") or []
    for port in ports:
        if port.get("port") == isvc.spec.endpoint.port:
            return dict(port)
    if not ports:
        raise EndpointNotFound(f"Service {name_of(service)} exposes no port")
    return dict(ports[0])


async def direct_address(cluster: Cluster, isvc: InferenceService, service: Object) -> Address | None:
    """A reachable address that needs no port-forward, or None."""
    namespace = namespace_of(service)
    port = service_port_of(service, isvc)
    candidates: list[Address] = []
    selector = service.get("spec", {}).get("selector")
    if not selector or isvc.spec.accelerator.type in HOST_ACCELERATORS:
        slices = await cluster.kube.list(
            ENDPOINT_SLICES,
            namespace=namespace,
            label_selector=f"{SERVICE_NAME_LABEL}={name_of(service)}",
        )
        candidates += slice_addresses(slices.items, port)
    service_type = service.get("spec", {}).get("type")
    if service_type in ("NodePort", "LoadBalancer"):
        with contextlib.suppress(NotFound):
            nodes = await cluster.kube.list(NODES)
            candidates += node_port_addresses(nodes.items, port)
    if service_type == "LoadBalancer":
        candidates += load_balancer_addresses(service, port)
    return await first_reachable(candidates)


def _pod_is_ready(pod: Object) -> bool:
    if is_terminating(pod):
        return False
    ready = condition_of(pod, READY)
    return ready is not None and ready.get("status") == "True"


def _target_port(service_port: Object, pod: Object) -> int:
    target = service_port.get("targetPort", service_port["port"])
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in pod.get("spec", {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target:
                return int(port["containerPort"])
    return int(service_port["port"])


async def ready_pod(cluster: Cluster, service: Object, service_port: Object) -> tuple[str, int]:
    """(pod name, container port) of a Ready pod behind the Service; the oldest first, as it is warmest."""
    selector = service.get("spec", {}).get("selector") or {}
    name = name_of(service)
    if not selector:
        raise EndpointNotFound(
            f"Service {name} has no selector and none of its EndpointSlice addresses answered from here; "
            "is the host agent running on this machine?"
        )
    pods = await cluster.kube.list(
        PODS,
        namespace=namespace_of(service),
        label_selector=",".join(f"{k}={v}" for k, v in sorted(selector.items())),
    )
    ready = sorted(
        (p for p in pods.items if _pod_is_ready(p)),
        key=lambda p: (metadata(p).get("creationTimestamp") or "", name_of(p)),
    )
    if not ready:
        raise EndpointNotFound(f"no Ready pod behind Service {name} yet")
    return name_of(ready[0]), _target_port(service_port, ready[0])


async def _service_named(cluster: Cluster, name: str) -> InferenceService:
    try:
        obj = await cluster.kube.get(INFERENCE_SERVICES, name, namespace=cluster.namespace)
    except NotFound as err:
        if is_missing_kind(err):
            raise
        existing = await cluster.kube.list(INFERENCE_SERVICES, namespace=cluster.namespace)
        names = [name_of(o) for o in existing.items]
        close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise EndpointNotFound(
            f"InferenceService {name!r} not found in namespace {cluster.namespace!r}{hint} "
            "(see 'llmkube list', or deploy it with 'llmkube deploy')"
        ) from None
    return parse_service(obj)


def not_ready_reason(isvc: InferenceService) -> str | None:
    status = isvc.status
    phase = (status.phase if status else None) or "Pending"
    if phase == "Ready":
        return None
    ready = find_condition(status.conditions if status else None, READY)
    why = f" ({ready.reason}: {ready.message})" if ready is not None and ready.message else ""
    return f"InferenceService {isvc.metadata.name!r} is {phase}, not Ready{why}"


class ClusterEndpointResolver:
    """The EndpointResolver for a name: one cluster connection per command, closed when the command ends."""

    def open(self, service: ServiceRef) -> AbstractAsyncContextManager[Endpoint]:
        return self._open(service)

    @contextlib.asynccontextmanager
    async def _open(self, ref: ServiceRef) -> AsyncIterator[Endpoint]:
        target = ClusterTarget(kubeconfig=ref.kubeconfig, context=ref.context, namespace=ref.namespace)
        async with connect(target) as cluster:
            isvc = await _service_named(cluster, ref.name)
            reason = not_ready_reason(isvc)
            if reason is not None:
                raise EndpointNotFound(f"{reason}; see 'llmkube status {ref.name}'")
            service_name = resource_name(ref.name)
            try:
                service = await cluster.kube.get(SERVICES, service_name, namespace=cluster.namespace)
            except NotFound:
                raise EndpointNotFound(
                    f"InferenceService {ref.name!r} is Ready but its Service {service_name} is missing; "
                    "is the controller running?"
                ) from None
            address = await direct_address(cluster, isvc, service)
            if address is not None:
                yield Endpoint(url=address.url, via=address.via)
                return
            port = service_port_of(service, isvc)
            pod, pod_port = await ready_pod(cluster, service, port)
            async with forward_pod_port(
                cluster.kube, pod=pod, namespace=cluster.namespace, port=pod_port
            ) as forward:
                try:
                    yield Endpoint(url=forward.url, via=f"port-forward to pod/{pod}:{pod_port}")
                except InferenceError as err:
                    if forward.errors:
                        raise EndpointNotFound(f"{err} (port-forward: {forward.errors[-1]})") from None
                    raise
