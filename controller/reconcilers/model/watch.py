"""Which Models an event concerns: map functions from download pods and cache claims to Models.

Everything here runs inside an informer's dispatch, so it only reads caches and returns requests.

- Jobs are owned by their Model, so they need no mapping (`owns`).
- A download pod is mapped through its Job to the Model: the Model's name may have been shortened in the pod's
  labels, but the owner references name it exactly.
- The cache claim is shared by the namespace, so its change (created, bound, resized) concerns every Model there.
- A Model with a `pvc` source reads its own claim: that claim's change concerns the Models naming it.
"""

from __future__ import annotations

from api.objects import ObjectView, controller_reference, name_of, namespace_of, spec_of
from controller.runtime.events import ObjectMapper, request_for
from controller.runtime.request import Request
from controller.runtime.store import Store


def _controller_name(obj: ObjectView | None, kind: str) -> str | None:
    ref = controller_reference(obj)
    if ref is None or ref.get("kind") != kind or not ref.get("name"):
        return None
    return str(ref["name"])


def model_of_pod(jobs: Store) -> ObjectMapper:
    def map_pod(pod: ObjectView) -> list[Request]:
        namespace = namespace_of(pod)
        job_name = _controller_name(pod, "Job")
        job = jobs.get_by_name(job_name, namespace) if job_name else None
        model_name = _controller_name(job, "Model")
        return [Request(namespace=namespace, name=model_name)] if model_name else []

    return map_pod


def models_of_namespace(models: Store) -> ObjectMapper:
    def map_claim(claim: ObjectView) -> list[Request]:
        return [request_for(model) for model in models.list(namespace_of(claim))]

    return map_claim


def source_claim_name(model: ObjectView) -> str | None:
    """The claim a Model with a `pvc` source reads its file from, or None for the other sources."""
    pvc = (spec_of(model).get("source") or {}).get("pvc") or {}
    name = pvc.get("claimName")
    return name if isinstance(name, str) and name else None


def models_of_source_claim(models: Store) -> ObjectMapper:
    def map_claim(claim: ObjectView) -> list[Request]:
        name = name_of(claim)
        return [
            request_for(model)
            for model in models.list(namespace_of(claim))
            if source_claim_name(model) == name
        ]

    return map_claim
