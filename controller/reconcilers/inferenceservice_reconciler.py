"""The InferenceService reconciler: serve a Ready Model as an OpenAI-compatible endpoint, and say honestly how.

One pass, read entirely from informer caches:

1. The service is gone (or going): delete its DCGM ServiceMonitor, the one child garbage collection cannot reach
   (it lives in another namespace). A sweep by label on a missing key needs no finalizer: a finalizer would
   block every `kubectl delete` on a controller that is down, for the sake of one scrape config.
2. The Model is missing or not Ready: report WaitingForModel (or the Model's failure) and touch no child. The
   Model's own status change wakes the service through the `modelRef` index, so nothing polls.
3. Otherwise write the children that differ (controller.reconcilers.inferenceservice_children); metal/host
   services get none, the host agent serves them and reports through its `HostServing` condition.
4. Status from the Deployment and its pods (controller.builders.service_status), written only if it changed,
   with an Event when the phase or the Ready reason changed.

A spec the builders cannot honour (a reserved flag in extraArgs, a name another service's children hold) is
reported as Failed/InvalidSpec and raised as TerminalError: retrying would not change the answer, the next edit
of the spec will.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from api.objects import condition_of
from api.v1alpha1.converter import WireError, from_wire
from api.v1alpha1.inferenceservice import HOST_ACCELERATORS, InferenceService
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import HOST_SERVING
from controller.builders.labels import label_value, object_name, selector_labels
from controller.builders.llama_args import ReservedArgumentError, serving_shape
from controller.builders.service import service_endpoint
from controller.builders.service_status import ServiceVerdict, invalid_spec_verdict, service_verdict
from controller.kube import EventRecorder, NotFound
from controller.kube.resources import INFERENCE_SERVICES
from controller.reconcilers.apply import Applier
from controller.reconcilers.inferenceservice_children import ChildRejected, ChildWriter
from controller.reconcilers.inferenceservice_status import (
    Placement,
    desired_status,
    owned_view,
    status_differs,
    transition,
)
from controller.reconcilers.inferenceservice_watch import PODS_BY_SERVICE
from controller.runtime.request import Request, Result, TerminalError
from controller.runtime.store import Store

log = structlog.get_logger(__name__)

Object = dict[str, Any]

#: How soon to look again while the ServiceMonitor cache fills after the CRD appeared.
MONITOR_CACHE_RETRY_SECONDS = 1.0


def selector_string(isvc_name: str) -> str:
    """`status.selector` for the scale subresource: the pods' selector labels as a label-selector string."""
    return ",".join(f"{key}={value}" for key, value in sorted(selector_labels(isvc_name).items()))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class InferenceServiceReconciler:
    def __init__(
        self,
        *,
        services: Store,
        models: Store,
        pods: Store,
        children: ChildWriter,
        applier: Applier,
        recorder: EventRecorder,
        now: Any = _utcnow,
    ) -> None:
        self._services = services
        self._models = models
        self._pods = pods
        self._children = children
        self._applier = applier
        self._recorder = recorder
        self._now = now

    async def reconcile(self, request: Request) -> Result:
        obj = self._services.get_by_name(request.name, request.namespace)
        if obj is None or obj.get("metadata", {}).get("deletionTimestamp"):
            swept = await self._children.sweep_dcgm(namespace=request.namespace, name=request.name)
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
            await self._write_status(obj, verdict, placement)
            return Result()

        served_by_host = isvc.spec.accelerator.type in HOST_ACCELERATORS
        try:
            if served_by_host:
                await self._children.retire_cluster_serving(isvc=isvc, owner=obj)
                deployment = None
            else:
                deployment = await self._children.apply_serving(isvc=isvc, owner=obj, model=model)
        except (ReservedArgumentError, ChildRejected) as err:
            await self._reject(obj, str(err))
            raise TerminalError(str(err)) from err
        monitoring = await self._children.apply_monitors(
            isvc=isvc, owner=obj, model=model, serving=served_by_host or deployment is not None
        )

        name = object_name(isvc)
        pods = self._pods.by_index(PODS_BY_SERVICE, f"{request.namespace}/{label_value(name)}")
        verdict = service_verdict(
            model_name=isvc.spec.model_ref.name,
            model=model,
            deployment=deployment,
            pods=pods,
            served_by_host=served_by_host,
            host_serving=condition_of(obj, HOST_SERVING),
            desired_replicas=isvc.spec.replicas,
        )
        placement = Placement(
            selector=placement.selector,
            endpoint=service_endpoint(isvc),
            gpu_count=placement.gpu_count,
            tensor_split=placement.tensor_split,
        )
        extra = (monitoring.condition,) if monitoring.condition is not None else ()
        await self._write_status(obj, verdict, placement, extra_conditions=extra)
        return Result(requeue_after=MONITOR_CACHE_RETRY_SECONDS) if monitoring.retry else Result()

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
        name = obj.get("metadata", {}).get("name", "")
        placement = Placement(selector=selector_string(name)) if name else Placement()
        await self._write_status(obj, invalid_spec_verdict(message), placement)

    async def _write_status(
        self,
        obj: Object,
        verdict: ServiceVerdict,
        placement: Placement,
        *,
        extra_conditions: tuple[Any, ...] = (),
    ) -> None:
        stored = obj.get("status")
        desired = desired_status(
            raw_status=stored,
            verdict=verdict,
            placement=placement,
            generation=obj.get("metadata", {}).get("generation"),
            now=self._now(),
            extra_conditions=extra_conditions,
        )
        if not status_differs(stored, desired):
            return
        before, after = owned_view(stored), owned_view(desired)
        log.debug(
            "writing status",
            changed=sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)),
        )
        try:
            # Compared and sent as our part only: the host agent's HostServing condition is not ours to write.
            await self._applier.ensure_status(
                INFERENCE_SERVICES, {**obj, "status": owned_view(stored)}, owned_view(desired)
            )
        except NotFound:
            return  # deleted meanwhile; its delete event brings us back for the sweep
        change = transition(stored, desired)
        if change is not None:
            await self._recorder.record(
                obj,
                type="Warning" if change.type == "Warning" else "Normal",
                reason=change.reason,
                message=change.message,
            )
