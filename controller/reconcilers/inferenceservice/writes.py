"""Every write of the InferenceService controller: the children it owns, its status, and the Events about both.

The reconciler hands in the objects the builders computed; this module only decides whether each needs a write.
Every apply goes through the Applier, which skips objects whose cached copy already carries the hash of the body
we want, so a steady cluster sees no write at all. Objects the spec no longer asks for (the HPA once autoscaling
is removed, the monitors once monitoring is off) are deleted, found in the informer caches. When autoscaling is
turned on, `replicas` is handed to a second field manager just before the apply that stops setting it, so the
Deployment keeps its size until the HPA takes over (controller.builders.replicas_handoff).

Two situations are not retried, because retrying cannot fix them: a child name already held by another
controller (two services whose names sanitise to the same DNS label), and a body the API server rejects as
invalid (422, or the 500 server-side apply answers for a field the kind's schema does not declare). Both surface as `ChildRejected`, which the reconciler reports as InvalidSpec.

The InferencePool is written only where its CRD exists, like the ServiceMonitors, and needs no condition: a
cluster without the Gateway API Inference Extension has no use for it.

The DCGM monitor lives in the exporter's namespace, so it cannot have an owner reference; it is found by its
owner annotation and deleted explicitly (see controller.builders.monitoring).

Status is applied (server-side, the controller's field manager) only when our part of it changed: the host
agent's HostServing condition is neither compared nor sent (controller.builders.inferenceservice_status).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs
import structlog

from api.objects import (
    Object,
    controller_reference,
    is_terminating,
    metadata,
    name_of,
    namespace_of,
    owner_references,
)
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.well_known import REPLICAS_HANDOFF_MANAGER
from controller.builders.conditions import DesiredCondition
from controller.builders.inferenceservice_status import Placement, ServiceVerdict, status_change
from controller.builders.labels import object_name, object_namespace, resource_name
from controller.builders.replicas_handoff import needs_replicas_handoff, replicas_handoff
from controller.kube import EventRecorder, Invalid, NotFound, Resource, ServerError
from controller.kube.errors import is_schema_rejection
from controller.kube.resources import (
    DEPLOYMENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    INFERENCE_POOLS,
    INFERENCE_SERVICES,
    SERVICE_MONITORS,
    SERVICES,
)
from controller.reconcilers.apply import Applier, needs_apply
from controller.reconcilers.inferenceservice.crd_gated import ABSENT, PENDING, CrdGatedCache
from controller.reconcilers.inferenceservice.watch import MONITORS_BY_OWNER
from controller.runtime.store import Store

log = structlog.get_logger(__name__)


class ChildRejected(Exception):
    """A child cannot be written as the spec asks; the message says what to change."""


@attrs.frozen(kw_only=True)
class OwnedCaches:
    deployments: Store
    services: Store
    autoscalers: Store
    monitors: CrdGatedCache
    pools: CrdGatedCache


@attrs.frozen(kw_only=True)
class MonitorsWritten:
    """What applying the ServiceMonitors found out, for the `Monitoring` condition."""

    crd_installed: bool
    #: The ServiceMonitor cache is still filling: nothing was written, come back shortly.
    pending: bool = False
    #: The DCGM exporter's namespace, when the DCGM monitor could not be applied because it does not exist.
    missing_dcgm_namespace: str | None = None


def _foreign_controller(current: Object | None, owner_uid: str | None) -> str | None:
    ref = controller_reference(current)
    if ref is not None and ref.get("uid") != owner_uid:
        return f"{ref.get('kind')} '{ref.get('name')}'"
    return None


class ServiceWrites:
    def __init__(self, *, applier: Applier, caches: OwnedCaches, recorder: EventRecorder) -> None:
        self._applier = applier
        self._caches = caches
        self._recorder = recorder

    # -- serving objects --------------------------------------------------------------------------------------

    async def apply_serving(
        self,
        *,
        isvc: InferenceService,
        owner: Object,
        deployment: Object | None,
        service: Object,
        autoscaler: Object | None,
    ) -> Object | None:
        """Deployment, Service and HPA (deleted when None); returns the Deployment (fresh if just written)."""
        if deployment is None:
            return None
        written = await self.apply_deployment(isvc=isvc, owner=owner, deployment=deployment)
        await self._ensure(SERVICES, self._caches.services, service, isvc=isvc, owner=owner)
        if autoscaler is not None:
            await self._ensure(
                HORIZONTAL_POD_AUTOSCALERS, self._caches.autoscalers, autoscaler, isvc=isvc, owner=owner
            )
        else:
            await self._remove(HORIZONTAL_POD_AUTOSCALERS, self._caches.autoscalers, isvc=isvc, owner=owner)
        return written

    async def apply_deployment(
        self, *, isvc: InferenceService, owner: Object, deployment: Object
    ) -> Object | None:
        """The Deployment alone; returns it (fresh if just written)."""
        await self._hand_over_replicas(deployment, isvc=isvc)
        return await self._ensure(DEPLOYMENTS, self._caches.deployments, deployment, isvc=isvc, owner=owner)

    def has_deployment(self, isvc: InferenceService) -> bool:
        """Whether the cache holds the service's Deployment (False for a service never rolled out)."""
        return self._cached(self._caches.deployments, isvc) is not None

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
            deployment=name_of(current),
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
        self, *, isvc: InferenceService, owner: Object, own: Object | None, dcgm: Object | None
    ) -> MonitorsWritten:
        """The service's ServiceMonitor and DCGM monitor when the CRD exists; deletes those passed as None."""
        monitors = self._caches.monitors
        if monitors.state == ABSENT:
            return MonitorsWritten(crd_installed=False)
        if monitors.state == PENDING:
            return MonitorsWritten(crd_installed=True, pending=True)

        name, namespace = object_name(isvc), object_namespace(isvc)
        current_own = monitors.get(namespace=namespace, name=resource_name(name))
        if own is not None:
            await self._write(SERVICE_MONITORS, own, current_own, isvc=isvc, owner=owner)
        elif current_own is not None and self._owned(current_own, isvc):
            await self._delete(SERVICE_MONITORS, current_own, owner=owner)

        missing_namespace = None
        if dcgm is not None:
            current = monitors.get(namespace=namespace_of(dcgm), name=name_of(dcgm))
            try:
                await self._write(SERVICE_MONITORS, dcgm, current, isvc=isvc, owner=owner)
            except NotFound:
                missing_namespace = namespace_of(dcgm)
            await self.sweep_dcgm(namespace=namespace, name=name, keep=name_of(dcgm), owner=owner)
        else:
            await self.sweep_dcgm(namespace=namespace, name=name, owner=owner)
        return MonitorsWritten(crd_installed=True, missing_dcgm_namespace=missing_namespace)

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
            if name_of(monitor) == keep or is_terminating(monitor):
                continue
            if await self._applier.ensure_absent(SERVICE_MONITORS, monitor):
                log.info("deleted DCGM ServiceMonitor", monitor=name_of(monitor))
                if owner is not None:
                    await self._event(owner, "Deleted", f"deleted DCGM ServiceMonitor {name_of(monitor)}")
        return True

    # -- status -----------------------------------------------------------------------------------------------

    async def write_status(
        self,
        obj: Object,
        verdict: ServiceVerdict,
        placement: Placement,
        *,
        now: datetime,
        extra_conditions: Sequence[DesiredCondition] = (),
    ) -> None:
        """Apply our part of the status if it changed, and post an Event when the phase or Ready reason did."""
        change = status_change(
            raw_status=obj.get("status"),
            verdict=verdict,
            placement=placement,
            generation=metadata(obj).get("generation"),
            now=now,
            extra_conditions=extra_conditions,
        )
        if not change.changed:
            return
        before, after = change.stored, change.desired
        log.debug(
            "writing status",
            changed=sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)),
        )
        try:
            # Compared and sent as our part only: the host agent's HostServing condition is not ours to write.
            await self._applier.ensure_status(INFERENCE_SERVICES, {**obj, "status": before}, after)
        except NotFound:
            return  # deleted meanwhile; its delete event brings us back for the sweep
        if change.event is not None:
            event = change.event
            await self._recorder.record(obj, type=event.type, reason=event.reason, message=event.message)

    # -- routing ----------------------------------------------------------------------------------------------

    async def apply_inference_pool(
        self, *, isvc: InferenceService, owner: Object, pool: Object | None
    ) -> bool:
        """The service's InferencePool where the CRD exists (None deletes ours); False while the cache fills."""
        pools = self._caches.pools
        if pools.state == ABSENT:
            return True
        if pools.state == PENDING:
            return False
        current = pools.get(namespace=object_namespace(isvc), name=resource_name(object_name(isvc)))
        if pool is not None:
            await self._write(INFERENCE_POOLS, pool, current, isvc=isvc, owner=owner)
        elif current is not None and self._owned(current, isvc):
            await self._delete(INFERENCE_POOLS, current, owner=owner)
        return True

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _cached(self, store: Store, isvc: InferenceService) -> Object | None:
        return store.get_by_name(resource_name(object_name(isvc)), object_namespace(isvc))

    @staticmethod
    def _owned(obj: Object, isvc: InferenceService) -> bool:
        return any(
            ref.get("controller") and ref.get("uid") == isvc.metadata.uid for ref in owner_references(obj)
        )

    async def _ensure(
        self, resource: Resource, store: Store, desired: Object, *, isvc: InferenceService, owner: Object
    ) -> Object | None:
        current = store.get_by_name(name_of(desired), namespace_of(desired))
        return await self._write(resource, desired, current, isvc=isvc, owner=owner)

    async def _write(
        self,
        resource: Resource,
        desired: Object,
        current: Object | None,
        *,
        isvc: InferenceService,
        owner: Object,
    ) -> Object | None:
        name = name_of(desired)
        holder = _foreign_controller(current, isvc.metadata.uid)
        if holder is not None:
            raise ChildRejected(
                f"{resource.kind} '{name}' is already controlled by {holder}; rename this InferenceService "
                "(names that differ only in '.' and '-' share their child objects)"
            )
        try:
            written = await self._applier.ensure(resource, desired, current)
        except (Invalid, ServerError) as err:
            if isinstance(err, ServerError) and not is_schema_rejection(err):
                raise
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
        if is_terminating(current):
            return  # already on its way out; a second delete would only be another write
        if await self._applier.ensure_absent(resource, current):
            await self._event(owner, "Deleted", f"deleted {resource.kind} {name_of(current)}")

    async def _event(self, owner: Object, reason: str, message: str) -> None:
        await self._recorder.record(owner, type="Normal", reason=reason, message=message)
