"""Wiring the Model controller into a manager: informers, event sources, metrics.

What wakes a Model (see `watch` for the mappings):

- the Model itself: every update counts, not only spec changes, because the fetcher's progress reports arrive
  as status updates and the Progressing message must follow them. Our own status writes wake the Model once
  more; that pass finds nothing to change and writes nothing;
- its download Jobs (owner reference), label-selected to ours;
- their pods, label-selected to download pods: the result is in a pod's status, which can reach us after the
  Job's;
- the namespace's cache claim (created, bound, resized).

The fetcher's ServiceAccount, Role and RoleBinding are only read from caches (to write nothing when they are as
wanted); they are checked again whenever a download starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from api.v1alpha1.model import GROUP, MODEL_PHASES
from api.v1alpha1.well_known import (
    COMPONENT_CACHE,
    COMPONENT_FETCH,
    COMPONENT_LABEL,
    MANAGED_BY_LABEL,
    MANAGER,
)
from controller.config import ControllerOptions
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
from controller.reconcilers.cached_fields import cached_informer
from controller.reconcilers.metrics import DownloadMetrics, register_model_metrics
from controller.reconcilers.model.reconciler import ModelReconciler, utc_now
from controller.reconcilers.model.watch import model_of_pod, models_of_namespace, models_of_source_claim
from controller.reconcilers.model.writes import ModelCaches, ModelWrites
from controller.reconcilers.object_metrics import register_model_status
from controller.runtime.controller import Controller
from controller.runtime.manager import Manager

CONTROLLER_NAME = "model"
FETCH_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER},{COMPONENT_LABEL}={COMPONENT_FETCH}"
CACHE_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER},{COMPONENT_LABEL}={COMPONENT_CACHE}"


def setup_model_controller(
    mgr: Manager,
    options: ControllerOptions,
    *,
    recorder: EventRecorder,
    now: Callable[[], datetime] = utc_now,
) -> Controller:
    """Build the controller on `mgr`'s shared informers and add it (leader-only) to the manager.

    Its workqueue, reconcile and domain metrics go to the manager's registry.
    """
    config, namespace, registry = options.config, options.namespace, mgr.registry
    models = cached_informer(mgr, MODELS, namespace=namespace)
    jobs = cached_informer(mgr, JOBS, namespace=namespace, label_selector=FETCH_SELECTOR)
    pods = cached_informer(mgr, PODS, namespace=namespace, label_selector=FETCH_SELECTOR)
    claims = cached_informer(
        mgr, PERSISTENT_VOLUME_CLAIMS, namespace=namespace, label_selector=CACHE_SELECTOR
    )
    source_claims = cached_informer(mgr, PERSISTENT_VOLUME_CLAIMS, namespace=namespace)
    caches = ModelCaches(
        models=models.store,
        jobs=jobs.store,
        pods=pods.store,
        claims=claims.store,
        source_claims=source_claims.store,
        service_accounts=cached_informer(
            mgr, SERVICE_ACCOUNTS, namespace=namespace, label_selector=FETCH_SELECTOR
        ).store,
        roles=cached_informer(mgr, ROLES, namespace=namespace, label_selector=FETCH_SELECTOR).store,
        role_bindings=cached_informer(
            mgr, ROLE_BINDINGS, namespace=namespace, label_selector=FETCH_SELECTOR
        ).store,
    )
    reconciler = ModelReconciler(
        client=mgr.client,
        caches=caches,
        writes=ModelWrites(client=mgr.client, caches=caches, config=config, recorder=recorder),
        config=config,
        metrics=DownloadMetrics(registry),
        now=now,
    )
    controller = (
        Controller(
            name=CONTROLLER_NAME,
            reconciler=reconciler,
            registry=registry,
            max_concurrent_reconciles=options.max_concurrent_reconciles,
        )
        .for_(models, predicates=())
        .owns(jobs, owner_kind="Model", owner_group=GROUP)
        .watches(pods, model_of_pod(jobs.store))
        .watches(claims, models_of_namespace(models.store))
        .watches(source_claims, models_of_source_claim(models.store))
    )
    register_model_metrics(phases=MODEL_PHASES, models=models.store.list, registry=registry)
    register_model_status(models.store.list, registry)
    mgr.add(controller)
    return controller
