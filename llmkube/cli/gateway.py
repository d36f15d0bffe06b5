"""The gateway from the CLI's side: find its Service in the cluster, reach it, and say where it is.

`--gateway URL` sends chat and benchmark requests to that gateway with `model` set to the service's name;
`--gateway cluster` finds the gateway Service that config/gateway installs (labels `app.kubernetes.io/name:
llmkube`, `app.kubernetes.io/component: gateway`) and reaches it from this machine the way `llmkube chat` reaches
a service: its NodePort or load balancer when one answers, else a port-forward to a Ready gateway pod.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from api.v1alpha1.well_known import APP_NAME, COMPONENT_GATEWAY, COMPONENT_LABEL, NAME_LABEL
from controller.builders.service import endpoint_url
from controller.kube import Forbidden, NotFound
from controller.kube.portforward import forward_pod_port
from controller.kube.resources import NODES, SERVICES
from llmkube.cli.cluster import Cluster, ClusterTarget, connect
from llmkube.cli.endpoint import Endpoint, EndpointNotFound
from llmkube.cli.resolver import (
    first_reachable,
    load_balancer_addresses,
    node_port_addresses,
    ready_pod,
)

GATEWAY_SELECTOR = f"{NAME_LABEL}={APP_NAME},{COMPONENT_LABEL}={COMPONENT_GATEWAY}"
#: Where config/default installs it; looked at first, and alone when listing every namespace is not allowed.
SYSTEM_NAMESPACE = "llmkube-system"


Object = dict[str, Any]


async def find_gateway_service(cluster: Cluster) -> Object | None:
    """The gateway Service, preferring llmkube-system; None when no gateway is installed (or visible)."""
    try:
        found = await cluster.kube.list(SERVICES, label_selector=GATEWAY_SELECTOR)
    except Forbidden:
        found = await cluster.kube.list(SERVICES, namespace=SYSTEM_NAMESPACE, label_selector=GATEWAY_SELECTOR)
    services = sorted(
        found.items,
        key=lambda s: (s["metadata"]["namespace"] != SYSTEM_NAMESPACE, s["metadata"]["namespace"]),
    )
    return services[0] if services else None


def http_port(service: Object) -> Object:
    ports = service.get("spec", {}).get("ports") or []
    for port in ports:
        if port.get("name") == "http":
            return dict(port)
    if not ports:
        raise EndpointNotFound(f"the gateway Service {service['metadata']['name']} exposes no port")
    return dict(ports[0])


def gateway_url(service: Object) -> str:
    """The gateway's OpenAI base URL inside the cluster (without `:80`, the port config/gateway gives it)."""
    url = endpoint_url(
        service_name=service["metadata"]["name"],
        namespace=service["metadata"]["namespace"],
        port=int(http_port(service)["port"]),
    )
    return url.replace(".svc.cluster.local:80/", ".svc.cluster.local/")


async def cluster_gateway_url(cluster: Cluster) -> str | None:
    """For `llmkube list`: the gateway's in-cluster URL, or None when there is none (or it may not be read)."""
    with contextlib.suppress(Forbidden, NotFound):
        service = await find_gateway_service(cluster)
        return gateway_url(service) if service is not None else None
    return None


@contextlib.asynccontextmanager
async def open_cluster_gateway(target: ClusterTarget) -> AsyncIterator[Endpoint]:
    """The gateway in the cluster, reachable from here for as long as the block runs."""
    async with connect(target) as cluster:
        service = await find_gateway_service(cluster)
        if service is None:
            raise EndpointNotFound(
                "no LLMKube gateway in this cluster (a Service labelled "
                f"{GATEWAY_SELECTOR}); install it with kubectl apply -k config/default, or pass --gateway URL"
            )
        namespace = service["metadata"]["namespace"]
        port = http_port(service)
        candidates = []
        if service.get("spec", {}).get("type") in ("NodePort", "LoadBalancer"):
            with contextlib.suppress(Forbidden):
                nodes = await cluster.kube.list(NODES)
                candidates += node_port_addresses(nodes.items, port)
            candidates += load_balancer_addresses(service, port)
        direct = await first_reachable(candidates)
        if direct is not None:
            yield Endpoint(
                url=direct.url, via=f"gateway {namespace}/{service['metadata']['name']} ({direct.via})"
            )
            return
        pod, pod_port = await ready_pod(cluster, service, port)
        async with forward_pod_port(cluster.kube, pod=pod, namespace=namespace, port=pod_port) as forward:
            yield Endpoint(url=forward.url, via=f"gateway, port-forward to pod/{pod}:{pod_port}")
