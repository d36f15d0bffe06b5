"""Resource handles: how to address one kind over REST, without discovery.

The controller talks to a fixed, known set of kinds, so a handle carries everything a URL needs (group, version,
plural, scope) and nothing is discovered at runtime. An unknown kind is a programming error found at import time,
not a 404 found in production.
"""

from __future__ import annotations

from urllib.parse import quote

import attrs


@attrs.frozen(kw_only=True)
class Resource:
    """One REST resource: `group` is "" for the core API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def _prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str | None = None) -> str:
        """The list/create URL path; a namespaced kind without a namespace means "all namespaces"."""
        if self.namespaced and namespace:
            return f"{self._prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{self._prefix}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None, subresource: str | None = None) -> str:
        if self.namespaced and not namespace:
            raise ValueError(f"{self.kind} {name!r} is namespaced: a namespace is required")
        path = f"{self.collection_path(namespace if self.namespaced else None)}/{quote(name, safe='')}"
        return f"{path}/{subresource}" if subresource else path

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _core(plural: str, kind: str, *, namespaced: bool = True) -> Resource:
    return Resource(group="", version="v1", plural=plural, kind=kind, namespaced=namespaced)


PODS = _core("pods", "Pod")
SERVICES = _core("services", "Service")
ENDPOINTS = _core("endpoints", "Endpoints")
EVENTS = _core("events", "Event")
CONFIG_MAPS = _core("configmaps", "ConfigMap")
SECRETS = _core("secrets", "Secret")
SERVICE_ACCOUNTS = _core("serviceaccounts", "ServiceAccount")
PERSISTENT_VOLUME_CLAIMS = _core("persistentvolumeclaims", "PersistentVolumeClaim")
PERSISTENT_VOLUMES = _core("persistentvolumes", "PersistentVolume", namespaced=False)
NODES = _core("nodes", "Node", namespaced=False)
NAMESPACES = _core("namespaces", "Namespace", namespaced=False)

DEPLOYMENTS = Resource(group="apps", version="v1", plural="deployments", kind="Deployment", namespaced=True)
JOBS = Resource(group="batch", version="v1", plural="jobs", kind="Job", namespaced=True)
HORIZONTAL_POD_AUTOSCALERS = Resource(
    group="autoscaling",
    version="v2",
    plural="horizontalpodautoscalers",
    kind="HorizontalPodAutoscaler",
    namespaced=True,
)
LEASES = Resource(group="coordination.k8s.io", version="v1", plural="leases", kind="Lease", namespaced=True)
ENDPOINT_SLICES = Resource(
    group="discovery.k8s.io", version="v1", plural="endpointslices", kind="EndpointSlice", namespaced=True
)
EVENTS_V1 = Resource(group="events.k8s.io", version="v1", plural="events", kind="Event", namespaced=True)
ROLES = Resource(
    group="rbac.authorization.k8s.io", version="v1", plural="roles", kind="Role", namespaced=True
)
ROLE_BINDINGS = Resource(
    group="rbac.authorization.k8s.io",
    version="v1",
    plural="rolebindings",
    kind="RoleBinding",
    namespaced=True,
)
CLUSTER_ROLES = Resource(
    group="rbac.authorization.k8s.io",
    version="v1",
    plural="clusterroles",
    kind="ClusterRole",
    namespaced=False,
)
CLUSTER_ROLE_BINDINGS = Resource(
    group="rbac.authorization.k8s.io",
    version="v1",
    plural="clusterrolebindings",
    kind="ClusterRoleBinding",
    namespaced=False,
)
STORAGE_CLASSES = Resource(
    group="storage.k8s.io", version="v1", plural="storageclasses", kind="StorageClass", namespaced=False
)
CUSTOM_RESOURCE_DEFINITIONS = Resource(
    group="apiextensions.k8s.io",
    version="v1",
    plural="customresourcedefinitions",
    kind="CustomResourceDefinition",
    namespaced=False,
)
SERVICE_MONITORS = Resource(
    group="monitoring.coreos.com",
    version="v1",
    plural="servicemonitors",
    kind="ServiceMonitor",
    namespaced=True,
)
INFERENCE_POOLS = Resource(
    group="inference.networking.k8s.io",
    version="v1",
    plural="inferencepools",
    kind="InferencePool",
    namespaced=True,
)
MODELS = Resource(
    group="inference.llmkube.dev", version="v1alpha1", plural="models", kind="Model", namespaced=True
)
INFERENCE_SERVICES = Resource(
    group="inference.llmkube.dev",
    version="v1alpha1",
    plural="inferenceservices",
    kind="InferenceService",
    namespaced=True,
)

KNOWN: tuple[Resource, ...] = (
    PODS,
    SERVICES,
    ENDPOINTS,
    EVENTS,
    CONFIG_MAPS,
    SECRETS,
    SERVICE_ACCOUNTS,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    NODES,
    NAMESPACES,
    DEPLOYMENTS,
    JOBS,
    HORIZONTAL_POD_AUTOSCALERS,
    LEASES,
    ENDPOINT_SLICES,
    EVENTS_V1,
    ROLES,
    ROLE_BINDINGS,
    CLUSTER_ROLES,
    CLUSTER_ROLE_BINDINGS,
    STORAGE_CLASSES,
    CUSTOM_RESOURCE_DEFINITIONS,
    SERVICE_MONITORS,
    INFERENCE_POOLS,
    MODELS,
    INFERENCE_SERVICES,
)

_BY_API_VERSION_KIND = {(r.api_version, r.kind): r for r in KNOWN}


def resource_for(api_version: str, kind: str) -> Resource:
    """The handle for an object's `apiVersion`/`kind` (owner references, manifests from builders)."""
    try:
        return _BY_API_VERSION_KIND[(api_version, kind)]
    except KeyError:
        raise LookupError(
            f"no resource handle for {api_version} {kind}: add it to controller/kube/resources.py"
        ) from None
