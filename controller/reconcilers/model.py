"""The Model controller: its caches, which events wake which Model, and the reconciler (`model_reconciler`).

- Models: every update counts, not only spec changes, because the fetcher's progress reports arrive as status
  updates and the Progressing message must follow them. Our own status writes wake the Model once more; that
  pass finds nothing to change and writes nothing.
- Jobs: label-selected to download Jobs, mapped to their controlling Model.
- Pods: label-selected to download pods; the result is in a pod's status, which can reach us after the Job's.
  A pod is mapped through its Job to the Model (a Model's name may have been shortened in the pod's labels).
- The cache claim: a change (created, bound, resized) concerns every Model of the namespace.
- ServiceAccount, Role and RoleBinding of the fetcher are only read from caches (to write nothing when they are
  as wanted); they are checked again whenever a download starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from api.v1alpha1.model import GROUP, MODEL_PHASES
from api.v1alpha1.well_known import (
    COMPONENT_CACHE,
    COMPONENT_FETCH,
    COMPONENT_LABEL,
    MANAGED_BY_LABEL,
    MANAGER,
)
from controller.config import ControllerConfig
from controller.kube import EventRecorder
from controller.kube.resources import (
    JOBS,
    MODELS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
)
from controller.reconcilers.metrics import DownloadMetrics, register_phase_counts
from controller.reconcilers.model_reconciler import ModelCaches, ModelReconciler, utc_now
from controller.runtime.controller import Controller
from controller.runtime.events import request_for
from controller.runtime.manager import Manager
from controller.runtime.request import Request
from controller.runtime.store import Store

__all__ = ["ModelCaches", "ModelReconciler", "setup_model_controller"]

FETCH_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER},{COMPONENT_LABEL}={COMPONENT_FETCH}"
CACHE_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER},{COMPONENT_LABEL}={COMPONENT_CACHE}"


def _controller_ref(obj: dict[str, Any], kind: str) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("kind") == kind and ref.get("name"):
            return str(ref["name"])
    return None


def model_of_pod(jobs: Store) -> Callable[[dict[str, Any]], list[Request]]:
    def map_pod(pod: dict[str, Any]) -> list[Request]:
        namespace = pod.get("metadata", {}).get("namespace") or ""
        job_name = _controller_ref(pod, "Job")
        job = jobs.get_by_name(job_name, namespace) if job_name else None
        model_name = _controller_ref(job, "Model") if job is not None else None
        return [Request(namespace=namespace, name=model_name)] if model_name else []

    return map_pod


def models_of_namespace(models: Store) -> Callable[[dict[str, Any]], list[Request]]:
    def map_claim(claim: dict[str, Any]) -> list[Request]:
        namespace = claim.get("metadata", {}).get("namespace") or ""
        return [request_for(model) for model in models.list(namespace)]

    return map_claim


def setup_model_controller(
    mgr: Manager,
    *,
    config: ControllerConfig,
    recorder: EventRecorder,
    namespace: str | None = None,
    registry: CollectorRegistry | None = None,
    max_concurrent_reconciles: int = 2,
    now: Callable[[], datetime] = utc_now,
) -> Controller:
    """Create the Model controller's informers on `mgr`, build the controller and add it; `namespace` limits it."""
    models = mgr.informer(MODELS, namespace=namespace)
    jobs = mgr.informer(JOBS, namespace=namespace, label_selector=FETCH_SELECTOR)
    pods = mgr.informer(PODS, namespace=namespace, label_selector=FETCH_SELECTOR)
    claims = mgr.informer(PERSISTENT_VOLUME_CLAIMS, namespace=namespace, label_selector=CACHE_SELECTOR)
    caches = ModelCaches(
        models=models.store,
        jobs=jobs.store,
        pods=pods.store,
        claims=claims.store,
        service_accounts=mgr.informer(
            SERVICE_ACCOUNTS, namespace=namespace, label_selector=FETCH_SELECTOR
        ).store,
        roles=mgr.informer(ROLES, namespace=namespace, label_selector=FETCH_SELECTOR).store,
        role_bindings=mgr.informer(ROLE_BINDINGS, namespace=namespace, label_selector=FETCH_SELECTOR).store,
    )
    reconciler = ModelReconciler(
        client=mgr.client,
        caches=caches,
        config=config,
        recorder=recorder,
        metrics=DownloadMetrics(registry),
        now=now,
    )
    controller = (
        Controller(
            name="model",
            reconciler=reconciler,
            registry=registry,
            max_concurrent_reconciles=max_concurrent_reconciles,
        )
        .for_(models, predicates=())
        .owns(jobs, owner_kind="Model", owner_group=GROUP)
        .watches(pods, model_of_pod(jobs.store))
        .watches(claims, models_of_namespace(models.store))
    )
    register_phase_counts(
        name="llmkube_models",
        documentation="Models by phase, as the controller's cache sees them.",
        phases=MODEL_PHASES,
        objects=models.store.list,
        registry=registry,
    )
    mgr.add(controller)
    return controller
