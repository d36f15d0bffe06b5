"""The agent's informer stores, by namespace: what every reconcile reads instead of asking the API server."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from api.objects import Object
from controller.runtime.request import Request
from controller.runtime.store import Store

#: Stores by watched namespace; the key None holds an all-namespaces informer's store.
Stores = Mapping[str | None, Store]


@attrs.frozen(kw_only=True)
class Caches:
    services: Stores
    models: Stores
    #: Only the agent's own Services and EndpointSlices (its informers select on the managed-by label).
    agent_services: Stores
    slices: Stores

    def service(self, request: Request) -> Object | None:
        return store_for(self.services, request.namespace).get(request.key)

    def model(self, namespace: str, name: str) -> Object | None:
        return store_for(self.models, namespace).get(f"{namespace}/{name}")

    def agent_services_in(self, namespace: str) -> Store:
        return store_for(self.agent_services, namespace)

    def slices_in(self, namespace: str) -> Store:
        return store_for(self.slices, namespace)


def store_for(stores: Stores, namespace: str) -> Store:
    # Not `get(ns) or get(None)`: a Store with no objects is falsy.
    store = stores[namespace] if namespace in stores else stores.get(None)
    if store is None:
        raise LookupError(f"namespace {namespace!r} is not watched by this agent")
    return store
