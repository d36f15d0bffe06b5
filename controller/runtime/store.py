"""The informer's cache: the latest object per key, plus secondary indexes.

Keys are `namespace/name` (just `name` for cluster-scoped kinds), the same string a `Request` prints. Objects are
the JSON dicts the API sent; callers must treat them as read-only, since the store hands out its own copies
rather than paying for a deep copy on every read.

Only the informer writes; it updates the store before any handler runs, so a reconciler reading the cache
always sees at least the state that triggered it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from api.objects import Object, key_of, metadata
from controller.runtime.indexer import DEFAULT_INDEXERS, IndexFunc

# Aliases because the `list` method below shadows the builtin inside the class body.
Objects = list[Object]
Keys = list[str]


def object_key(obj: Object) -> str:
    """The cache key: `namespace/name`, or `name` for cluster-scoped objects."""
    return key_of(obj)


def resource_version(obj: Object | None) -> str:
    return str(metadata(obj).get("resourceVersion") or "")


@attrs.frozen(kw_only=True)
class ReplaceDiff:
    """What a relist changed, in the order handlers must hear it: deletions first, then updates, then adds."""

    deleted: Objects
    updated: list[tuple[Object, Object]]
    added: Objects


class Store:
    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._objects: dict[str, Object] = {}
        self._indexers: dict[str, IndexFunc] = dict(DEFAULT_INDEXERS if indexers is None else indexers)
        # Invariant: key k is in `_index[name][v]` exactly when v is in `_values[name][k]`, and every key in
        # `_values[name]` is in `_objects`. Empty sets are removed, so a lookup of a vanished value is cheap.
        self._index: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}
        self._values: dict[str, dict[str, tuple[str, ...]]] = {name: {} for name in self._indexers}

    # -- reads ------------------------------------------------------------------------------------------------

    def get(self, key: str) -> Object | None:
        return self._objects.get(key)

    def get_by_name(self, name: str, namespace: str | None = None) -> Object | None:
        return self._objects.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> Objects:
        if namespace is None:
            return list(self._objects.values())
        return [o for o in self._objects.values() if metadata(o).get("namespace") == namespace]

    def keys(self) -> Keys:
        return list(self._objects)

    def by_index(self, name: str, value: str) -> Objects:
        try:
            keys = self._index[name].get(value, ())
        except KeyError:
            raise KeyError(
                f"no index {name!r}; register it with add_index before the informer starts"
            ) from None
        return [self._objects[k] for k in sorted(keys)]

    def index_names(self) -> Keys:
        return list(self._indexers)

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    # -- writes (informer only) -------------------------------------------------------------------------------

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Register an index; objects already cached are indexed at once."""
        if name in self._indexers:
            raise ValueError(f"index {name!r} is already registered")
        self._indexers[name] = func
        self._index[name] = {}
        self._values[name] = {}
        for key, obj in self._objects.items():
            self._index_one(name, key, obj)

    def upsert(self, obj: Object) -> Object | None:
        """Store `obj`, returning the object it replaced (None when it is new)."""
        key = object_key(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key)
        self._objects[key] = obj
        for name in self._indexers:
            self._index_one(name, key, obj)
        return old

    def delete(self, key: str) -> Object | None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key)
        return old

    def replace(self, objects: Iterable[Object]) -> ReplaceDiff:
        """Make the store hold exactly `objects`; unchanged objects (same resourceVersion) are not reported."""
        incoming = {object_key(o): o for o in objects}
        deleted = [old for key, old in list(self._objects.items()) if key not in incoming]
        for obj in deleted:
            self.delete(object_key(obj))
        updated: list[tuple[Object, Object]] = []
        added: list[Object] = []
        for key, obj in incoming.items():
            old = self._objects.get(key)
            if old is not None and resource_version(old) == resource_version(obj) and resource_version(obj):
                continue
            self.upsert(obj)
            if old is None:
                added.append(obj)
            else:
                updated.append((old, obj))
        return ReplaceDiff(deleted=deleted, updated=updated, added=added)

    def _index_one(self, name: str, key: str, obj: Object) -> None:
        values = tuple(dict.fromkeys(self._indexers[name](obj)))
        if not values:
            return
        self._values[name][key] = values
        index = self._index[name]
        for value in values:
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: str) -> None:
        for name, by_key in self._values.items():
            values = by_key.pop(key, ())
            index = self._index[name]
            for value in values:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
