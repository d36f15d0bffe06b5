"""Informer handlers that keep the routing table in step with InferenceServices and their EndpointSlices.

Each event names one InferenceService (directly, or through the `kubernetes.io/service-name` label of a slice)
and that service's route is recomputed from the caches, level-based like a reconcile: the event only says
where to look. Handlers run synchronously in the informer's dispatch and only touch in-memory state, as the
informer contract requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from controller.runtime.store import Store, object_key
from llmkube.gateway.routes import SERVICE_NAME_LABEL, InvalidService, route_of, service_name_of
from llmkube.gateway.table import RouteTable

log = structlog.get_logger(__name__)

#: InferenceServices by the Service they publish (`<namespace>/<service name>`).
BY_SERVICE_NAME = "gateway-service-name"
#: EndpointSlices by the Service they belong to (`<namespace>/<service name>`).
BY_SLICE_SERVICE = "gateway-slice-service"

Object = dict[str, Any]


def service_name_index(isvc: Object) -> list[str]:
    meta = isvc.get("metadata") or {}
    if not meta.get("name"):
        return []
    return [f"{meta.get('namespace', '')}/{service_name_of(isvc)}"]


def slice_service_index(slice_: Object) -> list[str]:
    meta = slice_.get("metadata") or {}
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace', '')}/{service}"] if service else []


class RouteWatcher:
    """Recomputes routes from the stores; `services`/`slices` map a namespace (None: all) to its store."""

    def __init__(
        self, table: RouteTable, *, services: Mapping[str | None, Store], slices: Mapping[str | None, Store]
    ) -> None:
        self._table = table
        self._services = services
        self._slices = slices

    def refresh(self, namespace: str, name: str) -> None:
        key = f"{namespace}/{name}"
        services = self._store(self._services, namespace)
        obj = services.get(key) if services is not None else None
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            self._table.refresh(key, None)
            return
        slices_store = self._store(self._slices, namespace)
        slices = (
            slices_store.by_index(BY_SLICE_SERVICE, f"{namespace}/{service_name_of(obj)}")
            if slices_store is not None
            else []
        )
        try:
            route = route_of(obj, slices)
        except InvalidService as exc:
            log.warning(
                "cannot route to an InferenceService that does not parse", service=key, error=str(exc)
            )
            self._table.refresh(key, None)
            return
        self._table.refresh(key, route)

    def refresh_for_slice(self, slice_: Object) -> None:
        meta = slice_.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        services = self._store(self._services, namespace)
        if services is None:
            return
        for value in slice_service_index(slice_):
            for isvc in services.by_index(BY_SERVICE_NAME, value):
                self.refresh(namespace, str(isvc["metadata"]["name"]))

    def _store(self, stores: Mapping[str | None, Store], namespace: str) -> Store | None:
        found = stores.get(namespace)
        return found if found is not None else stores.get(None)

    @property
    def service_events(self) -> _ServiceEvents:
        return _ServiceEvents(self)

    @property
    def slice_events(self) -> _SliceEvents:
        return _SliceEvents(self)


class _ServiceEvents:
    def __init__(self, watcher: RouteWatcher) -> None:
        self._watcher = watcher

    def _refresh(self, obj: Object) -> None:
        namespace, _, name = object_key(obj).partition("/")
        self._watcher.refresh(namespace, name)

    def on_add(self, obj: Object) -> None:
        self._refresh(obj)

    def on_update(self, old: Object, new: Object) -> None:
        self._refresh(new)

    def on_delete(self, obj: Object) -> None:
        self._refresh(obj)


class _SliceEvents:
    def __init__(self, watcher: RouteWatcher) -> None:
        self._watcher = watcher

    def on_add(self, obj: Object) -> None:
        self._watcher.refresh_for_slice(obj)

    def on_update(self, old: Object, new: Object) -> None:
        self._watcher.refresh_for_slice(new)
        if slice_service_index(old) != slice_service_index(new):
            self._watcher.refresh_for_slice(old)

    def on_delete(self, obj: Object) -> None:
        self._watcher.refresh_for_slice(obj)
