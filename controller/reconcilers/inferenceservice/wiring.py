"""Wiring the InferenceService controller into a manager: informers, indexes, event sources, metrics.

What wakes a service (see `watch` for the mappings):

- its own spec changes, and the host agent's `HostServing` condition;
- its Deployment, Service and HPA (owner reference), and its ServiceMonitors and InferencePool once those
  CRDs exist;
- its pods (scheduling failures, crash loops), by the service label of the pod template;
- its Model, through the `modelRef` index, so a Model becoming Ready moves waiting services on;
- the ServiceMonitor CRD appearing, for services that asked for monitoring; the InferencePool CRD appearing,
  for every service.
- Nodes changing what they offer, for services whose memory plan did not fit (the Node cache is also what the
  plan is checked against: controller.builders.service_fit).

Child informers are filtered to objects labelled as ours (`managed-by=llmkube`, component inference-server),
so the controller does not cache every Deployment and pod of the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from api.v1alpha1.inferenceservice import SERVICE_PHASES
from api.v1alpha1.model import GROUP
from api.v1alpha1.well_known import COMPONENT_LABEL, COMPONENT_SERVER, MANAGED_BY_LABEL, MANAGER
from controller.config import ControllerOptions
from controller.kube import EventRecorder
from controller.kube.resources import (
    CUSTOM_RESOURCE_DEFINITIONS,
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    INFERENCE_POOLS,
    INFERENCE_SERVICES,
    MODELS,
    NODES,
    PODS,
    SERVICES,
)
from controller.reconcilers.apply import Applier
from controller.reconcilers.cached_fields import cached_informer
from controller.reconcilers.inferenceservice.crd_gated import (
    INFERENCE_POOL_CRD,
    SERVICE_MONITOR_CRD,
    CrdGatedCache,
)
from controller.reconcilers.inferenceservice.reconciler import InferenceServiceReconciler, utc_now
from controller.reconcilers.inferenceservice.watch import (
    BY_MODEL_REF,
    BY_SERVICE_LABEL,
    MONITORS_BY_OWNER,
    PODS_BY_SERVICE,
    NodeOfferChanged,
    SpecOrHostServingChanged,
    every_service,
    model_ref_index,
    monitor_owner_index,
    monitoring_services,
    owner_of_dcgm_monitor,
    pod_service_index,
    rollouts_first,
    service_label_index,
    service_of_pod,
    services_of_model,
    unfit_services,
)
from controller.reconcilers.inferenceservice.writes import OwnedCaches, ServiceWrites
from controller.reconcilers.metrics import register_service_metrics
from controller.reconcilers.object_metrics import register_inferenceservice_status
from controller.runtime.controller import Controller
from controller.runtime.events import enqueue_mapped, enqueue_owner
from controller.runtime.indexer import IndexFunc
from controller.runtime.informer import Informer
from controller.runtime.manager import Manager

CONTROLLER_NAME = "inferenceservice"

SERVING_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER},{COMPONENT_LABEL}={COMPONENT_SERVER}"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGER}"


def _ensure_index(informer: Informer, name: str, func: IndexFunc) -> None:
    # Informers are shared: another controller may have registered the same index on this one.
    if name not in informer.store.index_names():
        informer.add_index(name, func)


def setup_inferenceservice_controller(
    mgr: Manager,
    options: ControllerOptions,
    *,
    recorder: EventRecorder,
    now: Callable[[], datetime] = utc_now,
) -> Controller:
    """Build the controller on `mgr`'s shared informers and add it (leader-only) to the manager.

    Its workqueue, reconcile and domain metrics go to the manager's registry.
    """
    config, namespace = options.config, options.namespace
    services = cached_informer(mgr, INFERENCE_SERVICES, namespace=namespace)
    _ensure_index(services, BY_MODEL_REF, model_ref_index)
    _ensure_index(services, BY_SERVICE_LABEL, service_label_index)
    models = cached_informer(mgr, MODELS, namespace=namespace)
    deployments = cached_informer(mgr, DEPLOYMENTS, namespace=namespace, label_selector=SERVING_SELECTOR)
    k8s_services = cached_informer(mgr, SERVICES, namespace=namespace, label_selector=SERVING_SELECTOR)
    autoscalers = cached_informer(
        mgr, HORIZONTAL_POD_AUTOSCALERS, namespace=namespace, label_selector=SERVING_SELECTOR
    )
    pods = cached_informer(mgr, PODS, namespace=namespace, label_selector=SERVING_SELECTOR)
    _ensure_index(pods, PODS_BY_SERVICE, pod_service_index)
    nodes = cached_informer(mgr, NODES)
    crds = cached_informer(
        mgr, CUSTOM_RESOURCE_DEFINITIONS, field_selector=f"metadata.name={SERVICE_MONITOR_CRD}"
    )
    monitors = CrdGatedCache(
        mgr.client,
        crds=crds,
        namespaces=[None] if namespace is None else [namespace, config.dcgm_namespace],
        label_selector=MANAGED_SELECTOR,
        indexers={MONITORS_BY_OWNER: monitor_owner_index},
        crd_name=SERVICE_MONITOR_CRD,
    )
    pool_crds = cached_informer(
        mgr, CUSTOM_RESOURCE_DEFINITIONS, field_selector=f"metadata.name={INFERENCE_POOL_CRD}"
    )
    pools = CrdGatedCache(
        mgr.client,
        crds=pool_crds,
        namespaces=[namespace],
        label_selector=MANAGED_SELECTOR,
        indexers={},
        resource=INFERENCE_POOLS,
        crd_name=INFERENCE_POOL_CRD,
    )

    writes = ServiceWrites(
        applier=Applier(mgr.client, field_manager=config.field_manager),
        caches=OwnedCaches(
            deployments=deployments.store,
            services=k8s_services.store,
            autoscalers=autoscalers.store,
            monitors=monitors,
            pools=pools,
        ),
        recorder=recorder,
    )
    reconciler = InferenceServiceReconciler(
        services=services.store,
        models=models.store,
        pods=pods.store,
        nodes=nodes.store,
        writes=writes,
        config=config,
        now=now,
    )
    controller = (
        Controller(
            name=CONTROLLER_NAME,
            reconciler=reconciler,
            max_concurrent_reconciles=options.max_concurrent_reconciles,
            registry=mgr.registry,
            priority_of=rollouts_first(deployments.store),
        )
        .for_(services, predicates=(SpecOrHostServingChanged(),))
        .owns(deployments, owner_kind="InferenceService", owner_group=GROUP)
        .owns(k8s_services, owner_kind="InferenceService", owner_group=GROUP)
        .owns(autoscalers, owner_kind="InferenceService", owner_group=GROUP)
        .watches(models, services_of_model(services.store))
        .watches(pods, service_of_pod(services.store))
        .watches(crds, monitoring_services(services.store))
        .watches(pool_crds, every_service(services.store))
        .watches(nodes, unfit_services(services.store), predicates=(NodeOfferChanged(),))
    )
    monitors.add_event_handler(enqueue_owner("InferenceService", GROUP).handler(controller.queue))
    monitors.add_event_handler(enqueue_mapped(owner_of_dcgm_monitor).handler(controller.queue))
    mgr.add(monitors, needs_leader=False)
    pools.add_event_handler(enqueue_owner("InferenceService", GROUP).handler(controller.queue))
    mgr.add(pools, needs_leader=False)
    mgr.add(controller)
    register_service_metrics(phases=SERVICE_PHASES, services=services.store.list, registry=mgr.registry)
    register_inferenceservice_status(services.store.list, mgr.registry)
    return controller
