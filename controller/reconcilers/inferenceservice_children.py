"""The objects an InferenceService owns: Deployment, Service, HPA and ServiceMonitors, written only when needed.

Every write goes through the Applier, which skips objects whose cached copy already carries the hash of the
body we want; so a steady cluster sees no write at all. Objects the spec no longer asks for (the HPA once
autoscaling is removed, the monitors once monitoring is off) are deleted, found in the informer caches. When
autoscaling is turned on, `replicas` is handed to a second field manager just before the apply that stops setting
it, so the Deployment keeps its size until the HPA takes over (controller.reconcilers.replicas_handoff).

Two situations are not retried, because retrying cannot fix them: a child name already held by another
controller (two services whose names sanitise to the same DNS label), and a body the API server rejects as
invalid. Both surface as `ChildRejected`, which the reconciler reports as InvalidSpec.

The DCGM monitor lives in the exporter's namespace, so it cannot have an owner reference; it is found by its
owner annotation and deleted explicitly (see controller.builders.monitoring).
"""

from __future__ import annotations

from typing import Any

import attrs
import structlog

from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import MONITORING, OWNER_ANNOTATION, REPLICAS_HANDOFF_MANAGER
from controller.builders.autoscaling import desired_autoscaler
from controller.builders.conditions import DesiredCondition
from controller.builders.deployment import desired_deployment
from controller.builders.labels import object_name, object_namespace, resource_name
from controller.builders.monitoring import desired_dcgm_monitor, desired_service_monitor, monitoring_enabled
from controller.builders.service import desired_service
from controller.config import ControllerConfig
from controller.kube import EventRecorder, Invalid, NotFound, Resource
from controller.kube.resources import (
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    SERVICE_MONITORS,
    SERVICES,
)
from controller.reconcilers.apply import Applier, needs_apply
from controller.reconcilers.inferenceservice_monitors import ABSENT, PENDING, ServiceMonitorCache
from controller.reconcilers.inferenceservice_watch import MONITORS_BY_OWNER
from controller.reconcilers.replicas_handoff import needs_replicas_handoff, replicas_handoff
from controller.runtime.store import Store

log = structlog.get_logger(__name__)

Object = dict[str, Any]


class ChildRejected(Exception):
    """A child cannot be written as the spec asks; the message says what to change."""


@attrs.frozen(kw_only=True)
class OwnedCaches:
    deployments: Store
    services: Store
    autoscalers: Store
    monitors: ServiceMonitorCache


@attrs.frozen(kw_only=True)
class MonitoringOutcome:
    condition: DesiredCondition | None
    #: The ServiceMonitor cache is still filling: come back shortly.
    retry: bool = False


def _terminating(obj: Object) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def _foreign_controller(current: Object | None, owner_uid: str | None) -> str | None:
    for ref in (current or {}).get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("uid") != owner_uid:
            return f"{ref.get('kind')} '{ref.get('name')}'"
    return None


class ChildWriter:
    def __init__(
        self,
        *,
        applier: Applier,
        caches: OwnedCaches,
        config: ControllerConfig,
        recorder: EventRecorder,
    ) -> None:
        self._applier = applier
        self._caches = caches
        self._config = config
        self._recorder = recorder

    # -- serving objects --------------------------------------------------------------------------------------

    async def apply_serving(self, *, isvc: InferenceService, owner: Object, model: Model) -> Object | None:
        """Deployment, Service and HPA as the spec asks; returns the Deployment (fresh if just written)."""
        deployment = desired_deployment(isvc=isvc, model=model, config=self._config)
        if deployment is None:
            return None
        await self._hand_over_replicas(deployment, isvc=isvc)
        written = await self._ensure(
            DEPLOYMENTS, self._caches.deployments, deployment, isvc=isvc, owner=owner
        )
        await self._ensure(SERVICES, self._caches.services, desired_service(isvc), isvc=isvc, owner=owner)
        autoscaler = desired_autoscaler(isvc=isvc, config=self._config)
        if autoscaler is not None:
            await self._ensure(
                HORIZONTAL_POD_AUTOSCALERS, self._caches.autoscalers, autoscaler, isvc=isvc, owner=owner
            )
        else:
            await self._remove(HORIZONTAL_POD_AUTOSCALERS, self._caches.autoscalers, isvc=isvc, owner=owner)
        return written

    async def _hand_over_replicas(self, deployment: Object, *, isvc: InferenceService) -> None:
        """Before the apply that leaves `replicas` to the HPA, park the field under a second manager."""
        current = self._cached(self._caches.deployments, isvc)
        if current is None or not self._owned(current, isvc) or not needs_apply(deployment, current):
            return
        if not needs_replicas_handoff(
            desired=deployment, current=current, manager=self._applier.field_manager
        ):
            return
        await self._applier.hand_over(
            DEPLOYMENTS, replicas_handoff(current), field_manager=REPLICAS_HANDOFF_MANAGER
        )
        log.info(
            "handed Deployment replicas to the autoscaler",
            deployment=current["metadata"]["name"],
            replicas=current["spec"]["replicas"],
        )

    async def retire_cluster_serving(self, *, isvc: InferenceService, owner: Object) -> None:
        """A service the host agent serves keeps no Deployment, HPA or selector-based Service of ours."""
        await self._remove(DEPLOYMENTS, self._caches.deployments, isvc=isvc, owner=owner)
        await self._remove(HORIZONTAL_POD_AUTOSCALERS, self._caches.autoscalers, isvc=isvc, owner=owner)
        service = self._cached(self._caches.services, isvc)
        # The agent publishes a selector-less Service of the same name; only ours selects pods.
        if service is not None and (service.get("spec") or {}).get("selector") and self._owned(service, isvc):
            await self._remove(SERVICES, self._caches.services, isvc=isvc, owner=owner)

    # -- monitoring -------------------------------------------------------------------------------------------

    async def apply_monitors(
        self, *, isvc: InferenceService, owner: Object, model: Model | None, serving: bool
    ) -> MonitoringOutcome:
        """Both ServiceMonitors when monitoring is on and the CRD exists; deletes those no longer wanted."""
        monitors = self._caches.monitors
        wanted = monitoring_enabled(isvc)
        if monitors.state == ABSENT:
            if not wanted:
                return MonitoringOutcome(condition=None)
            return MonitoringOutcome(
                condition=DesiredCondition(
                    type=MONITORING,
                    status="False",
                    reason="ServiceMonitorCRDMissing",
                    message="ServiceMonitors skipped: the monitoring.coreos.com CRD is not installed; "
                    "install the Prometheus Operator (or its CRDs) and they are created automatically",
                )
            )
        if monitors.state == PENDING:
            return MonitoringOutcome(condition=None, retry=True)

        name, namespace = object_name(isvc), object_namespace(isvc)
        own = desired_service_monitor(isvc) if serving else None
        current_own = monitors.get(namespace=namespace, name=resource_name(name))
        if own is not None:
            await self._ensure_monitor(own, current_own, isvc=isvc, owner=owner)
        elif current_own is not None and self._owned(current_own, isvc):
            await self._delete(SERVICE_MONITORS, current_own, owner=owner)

        dcgm = desired_dcgm_monitor(isvc=isvc, model=model.spec if model else None, config=self._config)
        dcgm_note = ""
        if dcgm is not None and serving:
            dcgm["metadata"]["annotations"] = {OWNER_ANNOTATION: f"{namespace}/{name}"}
            current = monitors.get(namespace=dcgm["metadata"]["namespace"], name=dcgm["metadata"]["name"])
            try:
                await self._ensure_monitor(dcgm, current, isvc=isvc, owner=owner)
            except NotFound:
                dcgm_note = (
                    f"; GPU metrics not scraped: namespace '{self._config.dcgm_namespace}' of the DCGM "
                    "exporter does not exist (set the controller's DCGM namespace)"
                )
            await self.sweep_dcgm(namespace=namespace, name=name, keep=dcgm["metadata"]["name"], owner=owner)
        else:
            await self.sweep_dcgm(namespace=namespace, name=name, owner=owner)
        if not wanted:
            return MonitoringOutcome(condition=None)
        if not serving:
            message = "ServiceMonitors are created once the service is deployed"
            return MonitoringOutcome(
                condition=DesiredCondition(type=MONITORING, status="False", reason="Waiting", message=message)
            )
        applied = "ServiceMonitor for llama.cpp metrics" + (" and DCGM GPU metrics" if dcgm else "")
        return MonitoringOutcome(
            condition=DesiredCondition(
                type=MONITORING, status="True", reason="ServiceMonitorsApplied", message=applied + dcgm_note
            )
        )

    async def sweep_dcgm(
        self, *, namespace: str, name: str, keep: str | None = None, owner: Object | None = None
    ) -> bool:
        """Delete the DCGM monitors labelled for this service (all but `keep`); the owner may be gone.

        False while the monitor caches are still filling: a leftover monitor may not be cached yet (each
        namespace has its own informer, and one's initial list can wake the owner before the other's has
        synced), so the caller must come back rather than take "nothing found" as swept.
        """
        monitors = self._caches.monitors
        if monitors.state == ABSENT:
            return True
        if monitors.state == PENDING:
            return False
        for monitor in monitors.by_index(MONITORS_BY_OWNER, f"{namespace}/{name}"):
            if monitor["metadata"]["name"] == keep or _terminating(monitor):
                continue
            if await self._applier.ensure_absent(SERVICE_MONITORS, monitor):
                log.info("deleted DCGM ServiceMonitor", monitor=monitor["metadata"]["name"])
                if owner is not None:
                    await self._event(
                        owner, "Deleted", f"deleted DCGM ServiceMonitor {monitor['metadata']['name']}"
                    )
        return True

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _cached(self, store: Store, isvc: InferenceService) -> Object | None:
        return store.get_by_name(resource_name(object_name(isvc)), object_namespace(isvc))

    @staticmethod
    def _owned(obj: Object, isvc: InferenceService) -> bool:
        return any(
            ref.get("controller") and ref.get("uid") == isvc.metadata.uid
            for ref in obj.get("metadata", {}).get("ownerReferences") or ()
        )

    async def _ensure(
        self, resource: Resource, store: Store, desired: Object, *, isvc: InferenceService, owner: Object
    ) -> Object | None:
        meta = desired["metadata"]
        current = store.get_by_name(meta["name"], meta["namespace"])
        return await self._write(resource, desired, current, isvc=isvc, owner=owner)

    async def _ensure_monitor(
        self, desired: Object, current: Object | None, *, isvc: InferenceService, owner: Object
    ) -> None:
        await self._write(SERVICE_MONITORS, desired, current, isvc=isvc, owner=owner)

    async def _write(
        self,
        resource: Resource,
        desired: Object,
        current: Object | None,
        *,
        isvc: InferenceService,
        owner: Object,
    ) -> Object | None:
        name = desired["metadata"]["name"]
        holder = _foreign_controller(current, isvc.metadata.uid)
        if holder is not None:
            raise ChildRejected(
                f"{resource.kind} '{name}' is already controlled by {holder}; rename this InferenceService "
                "(names that differ only in '.' and '-' share their child objects)"
            )
        try:
            written = await self._applier.ensure(resource, desired, current)
        except Invalid as err:
            raise ChildRejected(f"the API server rejected {resource.kind} '{name}': {err}") from err
        if written is None:
            return current
        if current is None:
            await self._event(owner, "Created", f"created {resource.kind} {name}")
        return written

    async def _remove(
        self, resource: Resource, store: Store, *, isvc: InferenceService, owner: Object
    ) -> None:
        current = self._cached(store, isvc)
        if current is not None and self._owned(current, isvc):
            await self._delete(resource, current, owner=owner)

    async def _delete(self, resource: Resource, current: Object, *, owner: Object) -> None:
        if _terminating(current):
            return  # already on its way out; a second delete would only be another write
        if await self._applier.ensure_absent(resource, current):
            await self._event(owner, "Deleted", f"deleted {resource.kind} {current['metadata']['name']}")

    async def _event(self, owner: Object, reason: str, message: str) -> None:
        await self._recorder.record(owner, type="Normal", reason=reason, message=message)
