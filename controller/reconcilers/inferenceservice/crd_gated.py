"""A cache of an optional kind: it exists only while the kind's CRD does.

Two kinds the controller writes are optional, because many clusters lack them: ServiceMonitors (the Prometheus
Operator's `servicemonitors.monitoring.coreos.com`) and InferencePools (the Gateway API Inference Extension's
`inferencepools.inference.networking.k8s.io`). An informer for a kind the server does not serve never syncs,
and the manager would refuse to start; so the controller watches the one CRD (by field selector) and starts the
kind's informers only once it is Established. While the CRD is known to be missing `state` says ABSENT and the
reconciler skips the kind (reporting it where a condition says so) instead of failing. Until the CRD cache has
been looked at, and between the CRD appearing and every namespace's cache filling, it says PENDING and the
reconciler comes back shortly: an answer from a half-filled cache would let a leftover object go unswept.

Only objects labelled `app.kubernetes.io/managed-by: llmkube` are cached. ServiceMonitors: every namespace when
the controller watches the whole cluster, else its own namespace plus the DCGM exporter's (where the GPU
monitors live). The informers' events wake the owning service: by owner reference for the per-service monitor
and the InferencePool, by the owner annotation for the DCGM monitor. Its initial list therefore also reconciles
the owners of leftover DCGM monitors, which deletes those whose service is gone: that is the start-up sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import anyio
import structlog
from anyio.abc import TaskStatus

from api.objects import Object, condition_of, is_terminating
from controller.kube import KubeClient, Resource
from controller.kube.resources import SERVICE_MONITORS
from controller.reconcilers.cached_fields import cached_fields
from controller.runtime.events import EventHandler
from controller.runtime.informer import Informer

log = structlog.get_logger(__name__)

SERVICE_MONITOR_CRD = "servicemonitors.monitoring.coreos.com"
INFERENCE_POOL_CRD = "inferencepools.inference.networking.k8s.io"

MonitorState = Literal["absent", "pending", "ready"]
ABSENT: MonitorState = "absent"
PENDING: MonitorState = "pending"
READY: MonitorState = "ready"


def crd_established(crd: Object | None) -> bool:
    if crd is None or is_terminating(crd):
        return False
    established = condition_of(crd, "Established")
    return established is not None and established.get("status") == "True"


class CrdGatedCache:
    """Informers of `resource`, started when its CRD is Established; a manager runnable on every replica."""

    def __init__(
        self,
        client: KubeClient,
        *,
        crds: Informer,
        namespaces: Sequence[str | None],
        label_selector: str,
        indexers: dict[str, Any],
        resource: Resource = SERVICE_MONITORS,
        crd_name: str = SERVICE_MONITOR_CRD,
    ) -> None:
        self._client = client
        self._resource = resource
        self._crds = crds
        self._crd_name = crd_name
        self._namespaces = list(dict.fromkeys(namespaces))
        self._label_selector = label_selector
        self._indexers = indexers
        self._handlers: list[EventHandler] = []
        self._informers: list[Informer] = []
        # Set once `run` has seen the CRD cache; before that, "no informers" means "not known yet", not ABSENT.
        self._looked = False
        # Created in `run`, inside the event loop; events before that find nobody waiting.
        self._crd_changed: anyio.Event | None = None
        crds.add_event_handler(_Signal(self))

    def add_event_handler(self, handler: EventHandler) -> None:
        """Handlers for the kind's informers; add them before `run`."""
        self._handlers.append(handler)

    @property
    def state(self) -> MonitorState:
        if not self._informers:
            return ABSENT if self._looked else PENDING
        if not all(informer.has_synced() for informer in self._informers):
            return PENDING
        return READY

    def get(self, *, namespace: str, name: str) -> Object | None:
        for informer in self._informers:
            found = informer.store.get_by_name(name, namespace)
            if found is not None:
                return found
        return None

    def by_index(self, index: str, value: str) -> list[Object]:
        return [obj for informer in self._informers for obj in informer.store.by_index(index, value)]

    def notify_crd_changed(self) -> None:
        if self._crd_changed is not None:
            self._crd_changed.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await self._crds.wait_synced()
        while True:
            # A fresh event before each look, so a change between the look and the wait is never missed.
            self._crd_changed = anyio.Event()
            if crd_established(self._crds.store.get(self._crd_name)):
                break
            self._looked = True
            await self._crd_changed.wait()
        log.info("CRD established; watching its kind", kind=self._resource.kind, namespaces=self._namespaces)
        informers = [self._informer(namespace) for namespace in self._namespaces]
        # All at once: `state` must never judge by the first namespace's cache while another's is still missing.
        self._informers = informers
        async with anyio.create_task_group() as tg:
            for informer in informers:
                await tg.start(informer.run)

    def _informer(self, namespace: str | None) -> Informer:
        informer = Informer(
            self._client,
            self._resource,
            namespace=namespace,
            label_selector=self._label_selector,
            indexers=self._indexers,
            transform=cached_fields(SERVICE_MONITORS),
        )
        for handler in self._handlers:
            informer.add_event_handler(handler)
        return informer


class _Signal:
    """Turns CRD informer events into a wake-up of the runnable waiting for the CRD."""

    def __init__(self, cache: CrdGatedCache) -> None:
        self._cache = cache

    def on_add(self, obj: Object) -> None:
        self._cache.notify_crd_changed()

    def on_update(self, old: Object, new: Object) -> None:
        self._cache.notify_crd_changed()

    def on_delete(self, obj: Object) -> None:
        self._cache.notify_crd_changed()
