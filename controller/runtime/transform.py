"""Trimming objects before they enter an informer's cache, as client-go's `TransformFunc` does.

A controller caches every object it watches for as long as it runs, and most of each object is never read: the
API server's `metadata.managedFields` alone is often as large as the rest of the object, and a pod's spec (its
containers, volumes, tolerations) is read by nobody once the pod exists. A transform applied to each object as
it arrives, before the store and before any handler sees it, keeps the cache to what the reconcilers read.

A transform here is built from a keep-list: a nested mapping from field name to what to keep of it.

- `KEEP` keeps the value whole;
- a nested keep-list keeps only the listed fields of a mapping (of every mapping, for a list of them);
- a function replaces the value with what it returns (a summary), or drops the field when it returns None.

Fields not named are dropped, unless the keep-list names `OTHERS`: its rule then applies to every field not named
(`{OTHERS: KEEP, "metadata": {...}}` trims the metadata and keeps the rest as it is). The trimmed copy shares no mutable structure with what the keep-list drops, and
its mapping keys are interned: a thousand cached objects then share one `"metadata"` string instead of holding a
thousand, because the JSON decoder only shares keys within one document.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from api.objects import Object

#: Turns a freshly received object into the copy the cache keeps; applied once per list item and watch event.
Transform = Callable[[Object], Object]


class _KeepWhole:
    def __repr__(self) -> str:
        return "KEEP"


#: Keep-list value meaning "keep this field as it is".
KEEP: Final = _KeepWhole()
#: Keep-list key whose rule applies to every field the keep-list does not name.
OTHERS: Final = "*"

Summary = Callable[[Any], Any]
KeepList = Mapping[str, "_KeepWhole | Summary | KeepList"]


def interned(value: Any) -> Any:
    """`value` rebuilt with every mapping key interned (values are left as they are)."""
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interned(item) for item in value]
    return value


def pruned(value: Any, keep: KeepList) -> Any:
    """What `keep` retains of `value`: a mapping keeps its listed fields, a list prunes each mapping in it."""
    if isinstance(value, list):
        return [pruned(item, keep) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    others = keep.get(OTHERS)
    for key, field in value.items():
        rule = keep.get(key, others)
        if rule is None:
            continue
        if rule is KEEP:
            kept = interned(field)
        elif isinstance(rule, Mapping):
            kept = pruned(field, rule)
        else:
            kept = rule(field)  # type: ignore[operator]
            if kept is None:
                continue
        result[sys.intern(key)] = kept
    return result


def keeping(keep: KeepList) -> Transform:
    """The transform that keeps what `keep` lists of each object, and nothing else."""

    def transform(obj: Object) -> Object:
        trimmed: Object = pruned(obj, keep)
        return trimmed

    return transform
