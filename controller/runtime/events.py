"""From informer events to reconcile requests: the event-source protocol, predicates and enqueue handlers.

An informer calls its handlers synchronously from its dispatch loop, so a handler may only compute requests and
add them to the queue; it must never block, await or raise. A bug in a map function is therefore logged and the
event dropped, rather than allowed to break the informer that every other handler depends on.

Handlers see plain JSON dicts (objects as the API server returns them) and produce `Request`s, which carry only
namespace and name: reconciles are level-based and read the current state from the cache, never the event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import attrs
import structlog

from api.objects import Object, metadata, name_of, namespace_of, owner_references
from controller.runtime.request import Request
from controller.runtime.store import Store

log = structlog.get_logger(__name__)

ObjectMapper = Callable[[Object], Iterable[Request]]


class EventHandler(Protocol):
    """What an informer calls for each change; every method must only enqueue and return."""

    def on_add(self, obj: Object) -> None: ...

    def on_update(self, old: Object, new: Object) -> None: ...

    def on_delete(self, obj: Object) -> None: ...


class EventSource(Protocol):
    """An informer, as far as a controller is concerned.

    `has_synced` must be true only once the initial list has been delivered to every handler registered so far,
    so that a controller started after it never reconciles against a half-filled cache.
    """

    def add_event_handler(self, handler: EventHandler) -> None: ...

    def has_synced(self) -> bool: ...


class Enqueuer(Protocol):
    """The part of a work-queue a handler uses."""

    def add(self, item: Request) -> None: ...


class Predicate(Protocol):
    """Decides whether an event reaches the handler; a controller ANDs its predicates, in order."""

    def create(self, obj: Object) -> bool: ...

    def update(self, old: Object, new: Object) -> bool: ...

    def delete(self, obj: Object) -> bool: ...


@attrs.frozen
class GenerationChanged:
    """Passes updates only when `metadata.generation` changed, i.e. the spec changed.

    It also drops status-only updates and informer resyncs (old == new): the controller then neither reacts to
    its own status writes nor repairs a status someone else overwrote. Creates and deletes always pass.
    """

    def create(self, obj: Object) -> bool:
        return True

    def update(self, old: Object, new: Object) -> bool:
        return bool(_generation(old) != _generation(new))

    def delete(self, obj: Object) -> bool:
        return True


generation_changed = GenerationChanged()


def request_for(obj: Object) -> Request:
    return Request(namespace=namespace_of(obj), name=metadata(obj)["name"])


@attrs.frozen(kw_only=True)
class EnqueueRequests:
    """Turns an object into the requests its events should enqueue; `handler` binds it to one queue.

    On update both the old and the new object are mapped (duplicates dropped), so a reference that was removed
    still wakes the object it used to point to.
    """

    map_object: ObjectMapper
    description: str

    def handler(self, queue: Enqueuer, *, predicates: Sequence[Predicate] = ()) -> EventHandler:
        return _EnqueueHandler(mapping=self, queue=queue, predicates=tuple(predicates))


def enqueue_object() -> EnqueueRequests:
    """Reconcile the object itself (the primary kind of a controller)."""
    return EnqueueRequests(map_object=lambda obj: [request_for(obj)], description="object")


def enqueue_owner(owner_kind: str, owner_api_group: str, *, only_controller: bool = True) -> EnqueueRequests:
    """Reconcile the owner of kind `owner_kind` in group `owner_api_group` ("" for the core group).

    Only the `controller: true` reference counts unless `only_controller` is false; the version is ignored, so an
    owner served at several versions still matches. Owners are looked up in the child's namespace, since a
    namespaced object can only be owned by an object in its own namespace or a cluster-scoped one.
    """

    def owners_of(obj: Object) -> list[Request]:
        namespace = namespace_of(obj)
        return [
            Request(namespace=namespace, name=ref["name"])
            for ref in owner_references(obj)
            if ref.get("kind") == owner_kind
            and _api_group(ref.get("apiVersion", "")) == owner_api_group
            and (ref.get("controller") is True or not only_controller)
        ]

    group = owner_api_group or "core"
    return EnqueueRequests(map_object=owners_of, description=f"owner {owner_kind}.{group}")


def enqueue_mapped(map_fn: ObjectMapper) -> EnqueueRequests:
    """Reconcile whatever `map_fn(obj)` names: for objects related by something other than ownership."""
    name = getattr(map_fn, "__qualname__", repr(map_fn))
    return EnqueueRequests(map_object=map_fn, description=f"mapped by {name}")


def referrers(store: Store, index: str) -> ObjectMapper:
    """Map an object to the objects of `store` that refer to it by name, found through a namespaced `index`.

    `index` must file each object under `<namespace>/<name of what it refers to>` (see `field_index`): with a
    `spec.modelRef.name` index on InferenceServices, a Model maps to the services that serve it.
    """

    def map_referred(obj: Object) -> list[Request]:
        key = f"{namespace_of(obj)}/{name_of(obj)}"
        return [request_for(referrer) for referrer in store.by_index(index, key)]

    map_referred.__qualname__ = f"referrers({index})"
    return map_referred


@attrs.frozen(kw_only=True)
class _EnqueueHandler:
    mapping: EnqueueRequests
    queue: Enqueuer
    predicates: tuple[Predicate, ...]

    def on_add(self, obj: Object) -> None:
        if all(predicate.create(obj) for predicate in self.predicates):
            self._enqueue("add", obj)

    def on_update(self, old: Object, new: Object) -> None:
        if all(predicate.update(old, new) for predicate in self.predicates):
            self._enqueue("update", old, new)

    def on_delete(self, obj: Object) -> None:
        if all(predicate.delete(obj) for predicate in self.predicates):
            self._enqueue("delete", obj)

    def _enqueue(self, change: str, *objects: Object) -> None:
        requests: dict[Request, None] = {}
        for obj in objects:
            try:
                requests.update(dict.fromkeys(self.mapping.map_object(obj)))
            except Exception:
                log.exception(
                    "mapping an event to requests failed; event dropped",
                    change=change,
                    handler=self.mapping.description,
                    object=_describe(obj),
                )
        for request in requests:
            self.queue.add(request)


def _generation(obj: Object) -> Any:
    return metadata(obj).get("generation")


def _api_group(api_version: str) -> str:
    group, _, _version = api_version.rpartition("/")
    return group


def _describe(obj: Object) -> str:
    meta = metadata(obj)
    return f"{obj.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '?')}"
