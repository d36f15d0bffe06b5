"""The InferenceService reconciler: serve a Ready Model as an OpenAI-compatible endpoint, and say honestly how.

One pass, read entirely from informer caches:

1. The service is gone (or going): delete its DCGM ServiceMonitor, the one child garbage collection cannot reach
   (it lives in another namespace). A sweep by label on a missing key needs no finalizer: a finalizer would
   block every `kubectl delete` on a controller that is down, for the sake of one scrape config.
2. The Model is missing or not Ready: report WaitingForModel (or the Model's failure) and touch no child. The
   Model's own status change wakes the service through the `modelRef` index, so nothing polls.
3. Otherwise plan its memory against the Nodes it may land on (controller.builders.service_fit): the GPU count
   when nobody wrote one, the `Fits` condition, the memory request of CPU pods. A plan that fits nothing on offer
   gets no Deployment (an existing one is removed) unless `spec.fitPolicy` is Warn.
4. Compute the children with the builders (the Deployment, and in it the llama-server command line,
   comes from controller.builders.deployment) and write those that differ (`writes`); metal/host services get
   none, the host agent serves them and reports through its `HostServing` condition.
   A service rolled out for the first time (no Deployment cached) gets only its Deployment in this pass; the
   Deployment's own watch event brings the next pass, a moment later, which writes the Service, the HPA, the
   monitors, the pool and the status. The Deployment is the long pole (scheduling, image, model load), while a Service create waits for
   the API server's ClusterIP allocation, which takes them one at a time: in a burst of new services, writing
   each Service before the next service's Deployment held every worker on that allocator, so the last
   Deployments of 200 started tens of seconds late. Now every Deployment goes out first, and the Services follow.
5. Status from the Deployment and its pods (controller.builders.inferenceservice_status), written only if it
   changed, with an Event when the phase or the Ready reason changed.

A spec the builders cannot honour (a reserved flag in extraArgs, a name another service's children hold) is
reported as Failed/InvalidSpec and raised as TerminalError: retrying would not change the answer, the next edit
of the spec will.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from api.objects import Object, condition_of, is_terminating, name_of
from api.v1alpha1.converter import WireError, from_wire
from api.v1alpha1.inferenceservice import HOST_ACCELERATORS, InferenceService
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import HOST_SERVING
from controller.builders.autoscaling import desired_autoscaler
from controller.builders.conditions import DesiredCondition
from controller.builders.deployment import desired_deployment
from controller.builders.inference_pool import desired_inference_pool
from controller.builders.inferenceservice_status import (
    Placement,
    does_not_fit_verdict,
    invalid_spec_verdict,
    service_verdict,
)
from controller.builders.labels import label_value, object_name, selector_string
from controller.builders.llama_args import ReservedArgumentError, serving_shape
from controller.builders.monitoring import (
    desired_dcgm_monitor,
    desired_service_monitor,
    monitoring_condition,
)
from controller.builders.service import desired_service, service_endpoint
from controller.builders.service_fit import FitDecision, planned_memory, service_fit
from controller.config import ControllerConfig
from controller.reconcilers.inferenceservice.watch import PODS_BY_SERVICE
from controller.reconcilers.inferenceservice.writes import ChildRejected, ServiceWrites
from controller.runtime.request import Request, Result, TerminalError
from controller.runtime.store import Store

log = structlog.get_logger(__name__)

#: How soon to look again while the ServiceMonitor or InferencePool cache fills after its CRD appeared.
MONITOR_CACHE_RETRY_SECONDS = 1.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class InferenceServiceReconciler:
    def __init__(
        self,
        *,
        services: Store,
        models: Store,
        pods: Store,
        nodes: Store,
        writes: ServiceWrites,
        config: ControllerConfig,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._services = services
        self._models = models
        self._pods = pods
        self._nodes = nodes
        self._writes = writes
        self._config = config
        self._now = now

    async def reconcile(self, request: Request) -> Result:
        obj = self._services.get_by_name(request.name, request.namespace)
        if obj is None or is_terminating(obj):
            swept = await self._writes.sweep_dcgm(namespace=request.namespace, name=request.name)
            return Result() if swept else Result(requeue_after=MONITOR_CACHE_RETRY_SECONDS)
        try:
            isvc = from_wire(obj, InferenceService)
        except WireError as err:
            await self._reject(obj, f"spec cannot be read: {err}")
            raise TerminalError(str(err)) from err

        model = self._model(isvc)
        model_ready = model is not None and model.status is not None and model.status.phase == "Ready"
        shape = serving_shape(
            isvc.spec, model.spec if model else None, model.status.gguf if model and model.status else None
        )
        placement = Placement(
            selector=selector_string(object_name(isvc)),
            gpu_count=shape.gpu_count,
            tensor_split=shape.tensor_split,
        )
        if model is None or not model_ready:
            verdict = service_verdict(model_name=isvc.spec.model_ref.name, model=model, deployment=None)
            await self._writes.write_status(obj, verdict, placement, now=self._now())
            return Result()

        served_by_host = isvc.spec.accelerator.type in HOST_ACCELERATORS
        fit = self._fit(isvc, model)
        gguf = model.status.gguf if model.status is not None else None
        shape = serving_shape(isvc.spec, model.spec, gguf, chosen_gpus=fit.gpu_count)
        deploys = fit.deploy and not served_by_host
        first_rollout = deploys and not self._writes.has_deployment(isvc)
        try:
            if not deploys:
                await self._writes.retire_cluster_serving(isvc=isvc, owner=obj)
                deployment = None
            else:
                desired = desired_deployment(
                    isvc=isvc,
                    model=model,
                    config=self._config,
                    chosen_gpus=fit.gpu_count,
                    memory_request=fit.memory_request,
                )
                if first_rollout and desired is not None:
                    deployment = await self._writes.apply_deployment(isvc=isvc, owner=obj, deployment=desired)
                else:
                    deployment = await self._writes.apply_serving(
                        isvc=isvc,
                        owner=obj,
                        deployment=desired,
                        service=desired_service(isvc),
                        autoscaler=desired_autoscaler(isvc=isvc, config=self._config),
                    )
        except (ReservedArgumentError, ChildRejected) as err:
            await self._reject(obj, str(err))
            raise TerminalError(str(err)) from err

        if first_rollout:
            return Result()  # the new Deployment's watch event brings the pass that writes everything else

        serving = served_by_host or deployment is not None
        monitoring, settled = await self._apply_monitoring_and_routing(
            isvc=isvc, owner=obj, model=model, serving=serving
        )

        pods = self._pods.by_index(PODS_BY_SERVICE, f"{request.namespace}/{label_value(object_name(isvc))}")
        if fit.deploy or served_by_host:
            verdict = service_verdict(
                model_name=isvc.spec.model_ref.name,
                model=model,
                deployment=deployment,
                pods=pods,
                served_by_host=served_by_host,
                host_serving=condition_of(obj, HOST_SERVING),
                desired_replicas=isvc.spec.replicas,
                wakes_on_request=isvc.spec.scale_to_zero is not None,
            )
        else:
            message = fit.condition.message if fit.condition is not None else "the memory plan does not fit"
            verdict = does_not_fit_verdict(isvc.spec.model_ref.name, model, message)
        placement = Placement(
            selector=placement.selector,
            endpoint=service_endpoint(isvc),
            gpu_count=shape.gpu_count,
            tensor_split=shape.tensor_split,
            memory=planned_memory(fit.plan) if fit.plan is not None else None,
        )
        extra = tuple(c for c in (monitoring, fit.condition) if c is not None)
        await self._writes.write_status(obj, verdict, placement, now=self._now(), extra_conditions=extra)
        return Result() if settled else Result(requeue_after=MONITOR_CACHE_RETRY_SECONDS)

    async def _apply_monitoring_and_routing(
        self, *, isvc: InferenceService, owner: Object, model: Model, serving: bool
    ) -> tuple[DesiredCondition | None, bool]:
        """ServiceMonitors and InferencePool: the `Monitoring` condition, and False while either cache fills."""
        dcgm = desired_dcgm_monitor(isvc=isvc, model=model.spec, config=self._config) if serving else None
        monitors = await self._writes.apply_monitors(
            isvc=isvc, owner=owner, own=desired_service_monitor(isvc) if serving else None, dcgm=dcgm
        )
        monitoring = (
            None
            if monitors.pending
            else monitoring_condition(
                isvc=isvc,
                crd_installed=monitors.crd_installed,
                serving=serving,
                dcgm=dcgm is not None,
                missing_dcgm_namespace=monitors.missing_dcgm_namespace,
            )
        )
        pool_settled = await self._writes.apply_inference_pool(
            isvc=isvc, owner=owner, pool=desired_inference_pool(isvc) if serving else None
        )
        return monitoring, pool_settled and not monitors.pending

    def _fit(self, isvc: InferenceService, model: Model) -> FitDecision:
        return service_fit(
            spec=isvc.spec,
            model=model.spec,
            gguf=model.status.gguf if model.status is not None else None,
            nodes=self._nodes.list(),
            gpu_memory_overrides=self._config.gpu_memory_overrides,
        )

    def _model(self, isvc: InferenceService) -> Model | None:
        namespace = isvc.metadata.namespace or ""
        found = self._models.get_by_name(isvc.spec.model_ref.name, namespace)
        if found is None:
            return None
        try:
            return from_wire(found, Model)
        except WireError as err:
            # The Model reconciler reports its own unreadable spec; to this service it is not usable yet.
            log.warning("referenced Model cannot be read; treated as missing", error=str(err))
            return None

    async def _reject(self, obj: Object, message: str) -> None:
        name = name_of(obj)
        placement = Placement(selector=selector_string(name)) if name else Placement()
        await self._writes.write_status(obj, invalid_spec_verdict(message), placement, now=self._now())
