"""Which Models an event concerns: map functions from download pods and cache claims to Models.

Everything here runs inside an informer's dispatch, so it only reads caches and returns requests.

- Jobs are owned by their Model, so they need no mapping (`owns`).
- A download pod is mapped through its Job to the Model: the Model's name may have been shortened in the pod's
  labels, but the owner references name it exactly.
- The cache claim is shared by the namespace, so its change (created, bound, resized) concerns every Model there.
"""

from __future__ import annotations

from api.objects import ObjectView, controller_reference, namespace_of
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
