"""Installing or upgrading the operator from the bundled manifests, and waiting until it serves.

Every object is written by server-side apply under the `llmkube-init` field manager, forcing ownership of the
fields the bundle sets: a second `init` with the same bundle sends the same intent and the API server changes
nothing (resourceVersions stay put), while a newer CLI's bundle upgrades exactly the fields that moved. Fields
others own (a `kubectl scale` of the controller, labels an admin added) are left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import attrs

from api.objects import conditions_of, metadata, name_of, namespace_of, status_of
from controller.kube import KubeClient, NotFound
from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, DEPLOYMENTS, PODS, resource_for
from llmkube.bundle import CONTROLLER_DEPLOYMENT, CONTROLLER_NAMESPACE
from llmkube.cli.cluster_checks import deployment_ready

INIT_MANAGER = "llmkube-init"
POLL_SECONDS = 1.0

Object = dict[str, Any]


@attrs.frozen(kw_only=True)
class Applied:
    kind: str
    name: str
    namespace: str
    changed: bool

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.lower()}/{where}{self.name}"


def _resource_version(obj: Object | None) -> str:
    return str(metadata(obj).get("resourceVersion", ""))


async def apply_objects(kube: KubeClient, objects: Iterable[Object]) -> list[Applied]:
    """Applies in order (the bundle lists the namespace and CRDs first); reports which objects changed."""
    applied = []
    for obj in objects:
        resource = resource_for(obj["apiVersion"], obj["kind"])
        before = None
        with contextlib.suppress(NotFound):
            before = await kube.get(resource, name_of(obj), namespace=namespace_of(obj) or None)
        after = await kube.apply(resource, obj, field_manager=INIT_MANAGER)
        applied.append(
            Applied(
                kind=obj["kind"],
                name=name_of(obj),
                namespace=namespace_of(obj),
                changed=before is None or _resource_version(before) != _resource_version(after),
            )
        )
    return applied


async def poll(check: Callable[[], Awaitable[bool]], *, timeout_s: float) -> bool:
    """True once `check` is; False when `timeout_s` passes first."""
    with anyio.move_on_after(timeout_s):
        while True:
            if await check():
                return True
            await anyio.sleep(POLL_SECONDS)
    return False


async def wait_for_crds(kube: KubeClient, names: Iterable[str], *, timeout_s: float) -> bool:
    async def established() -> bool:
        for name in names:
            crd = await kube.get(CUSTOM_RESOURCE_DEFINITIONS, name)
            if not any(
                c.get("type") == "Established" and c.get("status") == "True" for c in conditions_of(crd)
            ):
                return False
        return True

    return await poll(established, timeout_s=timeout_s)


async def controller_deployment(kube: KubeClient) -> Object | None:
    with contextlib.suppress(NotFound):
        return await kube.get(DEPLOYMENTS, CONTROLLER_DEPLOYMENT, namespace=CONTROLLER_NAMESPACE)
    return None


async def wait_for_controller(kube: KubeClient, *, timeout_s: float) -> bool:
    async def ready() -> bool:
        deployment = await controller_deployment(kube)
        return deployment is not None and deployment_ready(deployment)

    return await poll(ready, timeout_s=timeout_s)


def pod_problems(pods: Iterable[Object]) -> list[str]:
    """Why controller pods are not Ready, in the words `kubectl describe` would use."""
    problems = []
    for pod in pods:
        status = status_of(pod)
        for condition in conditions_of(pod):
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                problems.append(f"pod {name_of(pod)} unschedulable: {condition.get('message', '')}".rstrip())
        for container in status.get("containerStatuses") or ():
            waiting = (container.get("state") or {}).get("waiting")
            if waiting:
                reason, message = waiting.get("reason", "Waiting"), waiting.get("message", "")
                problems.append(f"pod {name_of(pod)}: {reason}{': ' + message if message else ''}")
        if not problems and status.get("phase") not in (None, "Running"):
            problems.append(f"pod {name_of(pod)} is {status.get('phase')}")
    return problems


async def controller_pod_problems(kube: KubeClient, deployment: Object | None) -> list[str]:
    selector_labels = ((deployment or {}).get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in selector_labels.items())
    pods = await kube.list(PODS, namespace=CONTROLLER_NAMESPACE, label_selector=selector or None)
    problems = pod_problems(pods.items)
    if not pods.items:
        problems.append(f"no controller pods in {CONTROLLER_NAMESPACE}: the Deployment has not created any")
    return problems
