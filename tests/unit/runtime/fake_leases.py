"""An in-memory Lease API (get, create, replace with optimistic locking), for leader election without a cluster.

Setting `down` makes every call fail the way an unreachable API server does, so a leader cannot renew.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.kube import Conflict, ConnectionFailed, NotFound, Resource

Object = dict[str, Any]


class FakeLeases:
    def __init__(self) -> None:
        self.down = False
        self._leases: dict[tuple[str, str], Object] = {}
        self._version = 0

    def holder(self, name: str, *, namespace: str) -> str | None:
        lease = self._leases.get((namespace, name))
        if lease is None:
            return None
        holder: str | None = lease["spec"].get("holderIdentity")
        return holder

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Object:
        self._check_up()
        lease = self._leases.get((namespace or "", name))
        if lease is None:
            raise NotFound(f"lease {namespace}/{name} not found", status=404)
        return copy.deepcopy(lease)

    async def create(self, resource: Resource, obj: Object, *, namespace: str | None = None) -> Object:
        self._check_up()
        key = self._key(obj)
        if key in self._leases:
            raise Conflict(f"lease {key} already exists", status=409)
        return self._store(key, obj)

    async def replace(self, resource: Resource, obj: Object, *, subresource: str | None = None) -> Object:
        self._check_up()
        key = self._key(obj)
        current = self._leases.get(key)
        if current is None:
            raise NotFound(f"lease {key} not found", status=404)
        if obj["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise Conflict(f"lease {key} was modified", status=409)
        return self._store(key, obj)

    def _check_up(self) -> None:
        if self.down:
            raise ConnectionFailed("API server unreachable")

    def _key(self, obj: Object) -> tuple[str, str]:
        return (obj["metadata"]["namespace"], obj["metadata"]["name"])

    def _store(self, key: tuple[str, str], obj: Object) -> Object:
        self._version += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self._version)
        self._leases[key] = stored
        return copy.deepcopy(stored)
