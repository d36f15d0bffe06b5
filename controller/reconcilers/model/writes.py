"""Every write of the Model controller: the namespace's cache claim and fetcher identity, download Jobs, status,
and the Events about them.

Objects go through the Applier, which sends nothing when the cache already holds what we want, so a steady
cluster sees no writes. The cache claim and the fetcher's ServiceAccount, Role and RoleBinding are shared by
every Model of a namespace and owned by none (controller.builders.model_cache, controller.builders.fetch_rbac).

Status fields the fetcher owns (`progress`, under its own field manager) are never applied by us; only a plain
patch can clear them once a download is over.
"""

from __future__ import annotations

import attrs

from api.objects import Object, name_of, namespace_of, status_of
from api.v1alpha1.converter import to_wire
from api.v1alpha1.model import ModelStatus
from controller.builders.fetch_rbac import desired_fetch_rbac
from controller.builders.model_cache import cache_override, desired_cache_claim, grown_claim
from controller.builders.model_status import transitions
from controller.config import ControllerConfig
from controller.kube import EventRecorder, Forbidden, Invalid, KubeClient
from controller.kube.recorder import EventType
from controller.kube.resources import (
    JOBS,
    MODELS,
    PERSISTENT_VOLUME_CLAIMS,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
    Resource,
)
from controller.reconcilers.apply import Applier
from controller.runtime.store import Store

#: Status fields written by the fetcher under its own field manager.
FETCHER_STATUS_FIELDS = ("progress",)


@attrs.frozen(kw_only=True)
class ModelCaches:
    """The informer stores the controller reads; jobs, pods and fetch RBAC are label-selected to ours."""

    models: Store
    jobs: Store
    pods: Store
    claims: Store
    #: Every claim of the watched namespaces: a Model's `pvc` source claim is the user's, not labelled by us.
    source_claims: Store
    service_accounts: Store
    roles: Store
    role_bindings: Store


class ModelWrites:
    def __init__(
        self,
        *,
        client: KubeClient,
        caches: ModelCaches,
        config: ControllerConfig,
        recorder: EventRecorder,
    ) -> None:
        self._client = client
        self._caches = caches
        self._config = config
        self._recorder = recorder
        self._apply = Applier(client, field_manager=config.field_manager)

    # -- namespace-wide objects -------------------------------------------------------------------------------

    async def ensure_cache_claim(self, obj: Object, namespace: str) -> None:
        """The namespace's cache claim, sized for every Model there; a claim that cannot grow is reported."""
        overrides = [cache_override(m) for m in sorted(self._caches.models.list(namespace), key=name_of)]
        desired = desired_cache_claim(namespace=namespace, config=self._config, overrides=overrides)
        current = self._caches.claims.get_by_name(self._config.model_cache_pvc_name, namespace)
        if current is not None:
            desired = grown_claim(desired, current)
        try:
            await self._apply.ensure(PERSISTENT_VOLUME_CLAIMS, desired, current)
        except (Forbidden, Invalid) as err:
            # A claim whose class cannot expand still serves every model that fits; say so, don't stop.
            await self.event(
                obj, type="Warning", reason="CacheResizeFailed", message=f"cache claim not resized: {err}"
            )

    async def ensure_fetch_rbac(self, namespace: str) -> None:
        stores: dict[str, tuple[Resource, Store]] = {
            "ServiceAccount": (SERVICE_ACCOUNTS, self._caches.service_accounts),
            "Role": (ROLES, self._caches.roles),
            "RoleBinding": (ROLE_BINDINGS, self._caches.role_bindings),
        }
        for desired in desired_fetch_rbac(namespace=namespace, config=self._config):
            resource, store = stores[desired["kind"]]
            await self._apply.ensure(resource, desired, store.get_by_name(name_of(desired), namespace))

    # -- download Jobs ----------------------------------------------------------------------------------------

    async def start_job(self, desired: Object) -> Object:
        """Create the download Job; returns it as written (or as wanted, when the cache already had it)."""
        return await self._apply.ensure(JOBS, desired, None) or desired

    async def delete_job(self, job: Object | None, *, foreground: bool = False) -> None:
        """Delete `job`; in the foreground it stays visible, being deleted, until its pod is gone."""
        await self._apply.ensure_absent(
            JOBS, job, propagation_policy="Foreground" if foreground else "Background"
        )

    # -- status and events ------------------------------------------------------------------------------------

    async def write_status(self, obj: Object, status: ModelStatus) -> bool:
        """Apply `status` if it differs from the cached one; True when something was written.

        Progress belongs to the fetcher's field manager, so only a plain patch can clear it once the download is
        over. It is cleared before the new phase is written, so nobody sees a Ready model with progress. Our
        cache may not show the fetcher's last report yet, so any change of phase clears it too, not only a
        cached progress: one extra write per transition, none at steady state.
        """
        cached = status_of(obj)
        cleared = False
        if status.phase != "Downloading" and (
            cached.get("progress") is not None or cached.get("phase") != status.phase
        ):
            await self._client.patch_status(
                MODELS, name_of(obj), {"status": {"progress": None}}, namespace=namespace_of(obj)
            )
            cleared = cached.get("progress") is not None
        written = await self._apply.ensure_status(MODELS, obj, to_wire(status), foreign=FETCHER_STATUS_FIELDS)
        return cleared or written is not None

    async def announce(self, obj: Object, before: ModelStatus | None, after: ModelStatus) -> None:
        """Events for transitions only; the recorder folds repeats of one failure into a count."""
        for change in transitions(before, after):
            await self.event(obj, type=change.type, reason=change.reason, message=change.message)

    async def event(self, obj: Object, *, type: EventType, reason: str, message: str) -> None:
        await self._recorder.record(obj, type=type, reason=reason, message=message)
