"""Index functions: the secondary keys a store files each object under.

An index function maps an object to zero or more string values; `Store.by_index(name, value)` then answers
"which cached objects have this value" without scanning. Values of namespaced lookups carry the namespace
(`"<namespace>/<value>"`) because references such as `spec.modelRef.name` only resolve within one namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from api.objects import Object, namespace_of, owner_references

IndexFunc = Callable[[Object], Iterable[str]]

BY_OWNER_UID = "owner-uid"
BY_CONTROLLER_UID = "controller-uid"


def owner_uids(obj: Object) -> list[str]:
    """Every owner's UID: finds the children of an owner, controller or not."""
    return [str(ref["uid"]) for ref in owner_references(obj) if ref.get("uid")]


def controller_uid(obj: Object) -> list[str]:
    """The UID of the one owner marked `controller: true`, if any."""
    return [str(ref["uid"]) for ref in owner_references(obj) if ref.get("controller") and ref.get("uid")]


def field_index(path: str, *, namespaced: bool = True) -> IndexFunc:
    """Index by the value at a dotted path such as `spec.modelRef.name`; lists index every element.

    With `namespaced` the value is `"<namespace>/<value>"`, so look it up with `by_index(path, f"{ns}/{name}")`.
    """
    parts = path.split(".")

    def index(obj: Object) -> list[str]:
        values: list[Any] = [obj]
        for part in parts:
            values = [v.get(part) for v in values if isinstance(v, dict)]
            values = [item for v in values for item in (v if isinstance(v, list) else [v])]
        found = [str(v) for v in values if v is not None and v != "" and not isinstance(v, dict | list)]
        if not namespaced:
            return found
        return [f"{namespace_of(obj)}/{v}" for v in found]

    return index


DEFAULT_INDEXERS: dict[str, IndexFunc] = {BY_OWNER_UID: owner_uids, BY_CONTROLLER_UID: controller_uid}
