"""An in-memory event source and object builders, for testing controller mechanics without an informer."""

from __future__ import annotations

from typing import Any

from api.objects import Object
from controller.runtime.events import EventHandler


def kube_object(
    name: str,
    *,
    namespace: str = "default",
    kind: str = "Model",
    generation: int = 1,
    owners: list[dict[str, Any]] | None = None,
) -> Object:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "generation": generation}
    if owners is not None:
        metadata["ownerReferences"] = owners
    return {"apiVersion": "inference.llmkube.dev/v1alpha1", "kind": kind, "metadata": metadata}


def owner_ref(
    name: str,
    *,
    kind: str = "Model",
    api_version: str = "inference.llmkube.dev/v1alpha1",
    controller: bool = True,
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": f"uid-{name}",
        "controller": controller,
    }


class FakeEventSource:
    """Calls its handlers synchronously, as an informer's dispatch does; `synced` is set by the test."""

    def __init__(self, *, synced: bool = True) -> None:
        self.synced = synced
        self.handlers: list[EventHandler] = []

    def add_event_handler(self, handler: EventHandler) -> None:
        self.handlers.append(handler)

    def has_synced(self) -> bool:
        return self.synced

    def add(self, obj: Object) -> None:
        for handler in self.handlers:
            handler.on_add(obj)

    def update(self, old: Object, new: Object) -> None:
        for handler in self.handlers:
            handler.on_update(old, new)

    def delete(self, obj: Object) -> None:
        for handler in self.handlers:
            handler.on_delete(obj)
