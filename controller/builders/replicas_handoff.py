"""Hand a Deployment's `replicas` over to the HorizontalPodAutoscaler without a dip.

With autoscaling on, the Deployment we apply leaves `replicas` out so that the HPA owns it. But the apply before
that set it, so our field manager is the field's only owner, and a server-side apply that drops a field its
manager alone owns removes it: the API server defaults it to 1 and the Deployment kills pods until the HPA scales
back up (3 replicas and `minReplicas: 2` dip to 1).

The Kubernetes documentation on server-side apply ("Transferring ownership") gives the fix used here: just before
the first apply without `replicas`, apply only `spec.replicas`, at its live value, under a second field manager
(`REPLICAS_HANDOFF_MANAGER`).
The field then stays owned when the main manager lets go, keeps its value, and passes to the HPA controller the
first time it scales (that manager's entry then disappears on its own). The handoff is a write only on the
transition: once the main manager no longer owns `replicas`, nothing here asks for one.
"""

from __future__ import annotations

from api.objects import Object, ObjectView, metadata


def applies_replicas(obj: ObjectView, *, manager: str) -> bool:
    """Whether `manager`'s server-side apply on the main resource (not a subresource) owns `spec.replicas`."""
    for entry in metadata(obj).get("managedFields") or ():
        if entry.get("manager") != manager or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        fields = entry.get("fieldsV1") or {}
        if "f:replicas" in (fields.get("f:spec") or {}):
            return True
    return False


def needs_replicas_handoff(*, desired: ObjectView, current: ObjectView | None, manager: str) -> bool:
    """True when applying `desired` as `manager` would drop a `replicas` that only our apply keeps in place."""
    if current is None or "replicas" in (desired.get("spec") or {}):
        return False
    if (current.get("spec") or {}).get("replicas") is None:
        return False
    return applies_replicas(current, manager=manager)


def replicas_handoff(current: ObjectView) -> Object:
    """The handoff apply: `spec.replicas` at the value `current` (our cached copy) holds, and nothing else."""
    metadata = current["metadata"]
    return {
        "apiVersion": current.get("apiVersion", "apps/v1"),
        "kind": current.get("kind", "Deployment"),
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
        "spec": {"replicas": current["spec"]["replicas"]},
    }
