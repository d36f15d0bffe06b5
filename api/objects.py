"""Reading Kubernetes objects in their JSON form, as the API server and the informer caches hand them out.

Only our own two kinds have typed values (api.v1alpha1); Deployments, Jobs, pods, Services and the rest are read
as plain dicts by the reconcilers, the builders, the host agent and the CLI alike. The API omits empty fields and
allows `null` for most of them, so every read of `metadata.labels` or `status.conditions` has to survive a
missing or null level on the way. These accessors do that once: each answers with an empty value where a field is
absent, never raises, and never copies the object (callers must not modify what they get back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: A Kubernetes object, or a part of one, as JSON.
Object = dict[str, Any]
#: The same, where it is only read: what caches hand out and pure decisions take.
ObjectView = Mapping[str, Any]

_EMPTY: ObjectView = {}


def _mapping(value: Any) -> ObjectView:
    return value if isinstance(value, Mapping) else _EMPTY


def metadata(obj: ObjectView | None) -> ObjectView:
    """`obj.metadata`, or an empty mapping."""
    return _mapping((obj or _EMPTY).get("metadata"))


def name_of(obj: ObjectView | None) -> str:
    return str(metadata(obj).get("name") or "")


def namespace_of(obj: ObjectView | None) -> str:
    """The namespace, or "" for cluster-scoped objects."""
    return str(metadata(obj).get("namespace") or "")


def key_of(obj: ObjectView | None) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects: the key of caches and work-queues."""
    namespace, name = namespace_of(obj), name_of(obj)
    return f"{namespace}/{name}" if namespace else name


def labels_of(obj: ObjectView | None) -> Mapping[str, str]:
    return _mapping(metadata(obj).get("labels"))


def annotations_of(obj: ObjectView | None) -> Mapping[str, str]:
    return _mapping(metadata(obj).get("annotations"))


def is_terminating(obj: ObjectView | None) -> bool:
    """Whether the object is being deleted (finalizers or dependents may keep it visible a while)."""
    return bool(metadata(obj).get("deletionTimestamp"))


def owner_references(obj: ObjectView | None) -> list[ObjectView]:
    return [ref for ref in metadata(obj).get("ownerReferences") or () if isinstance(ref, Mapping)]


def controller_reference(obj: ObjectView | None) -> ObjectView | None:
    """The owner reference marked `controller: true`; an object has at most one."""
    return next((ref for ref in owner_references(obj) if ref.get("controller")), None)


def spec_of(obj: ObjectView | None) -> ObjectView:
    return _mapping((obj or _EMPTY).get("spec"))


def status_of(obj: ObjectView | None) -> ObjectView:
    return _mapping((obj or _EMPTY).get("status"))


def conditions_of(obj: ObjectView | None) -> list[ObjectView]:
    """`status.conditions`, skipping entries that are not objects (a hand-edited status)."""
    return [c for c in status_of(obj).get("conditions") or () if isinstance(c, Mapping)]


def condition_of(obj: ObjectView | None, condition_type: str) -> ObjectView | None:
    """The status condition of type `condition_type`, or None."""
    return next((c for c in conditions_of(obj) if c.get("type") == condition_type), None)
