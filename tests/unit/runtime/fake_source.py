"""A scripted list/watch source and a recording handler, for testing reflectors and informers without a cluster.

`FakeSource(lists=[...], watches=[[...], ...])` answers each LIST with the next scripted `ObjectList` (or raises
the scripted exception) and each WATCH with the next scripted stream, whose entries are yielded as events or
raised as errors; a stream that runs out closes cleanly. Once a call finds its script used up, `exhausted` is set
and the call blocks until cancelled, so a test can wait for the reflector to reach the end of the script.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from controller.kube import ObjectList, Resource, WatchEvent

# A module-level name, because inside FakeSource `list` is the LIST call.
WatchScript = list[WatchEvent | Exception]


def cm(name: str, resource_version: str, *, namespace: str = "ns") -> dict[str, Any]:
    """A ConfigMap as the API returns it."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": resource_version},
        "data": {"value": resource_version},
    }


def event(kind: str, name: str, resource_version: str) -> WatchEvent:
    """A watch event for ConfigMap `name`; a BOOKMARK carries only the resourceVersion."""
    if kind == "BOOKMARK":
        obj: dict[str, Any] = {"kind": "ConfigMap", "metadata": {"resourceVersion": resource_version}}
    else:
        obj = cm(name, resource_version)
    return WatchEvent(type=kind, object=obj)


class FakeSource:
    def __init__(self, *, lists: list[ObjectList | Exception], watches: list[WatchScript]) -> None:
        self._lists = list(lists)
        self._watches = [list(stream) for stream in watches]
        # ("list" | "watch", resourceVersion asked for), in call order.
        self.calls: list[tuple[str, str]] = []
        self.exhausted = anyio.Event()

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        page_size: int = 500,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> ObjectList:
        self.calls.append(("list", resource_version or ""))
        if not self._lists:
            self.exhausted.set()
            await anyio.sleep_forever()
        answer = self._lists.pop(0)
        await anyio.lowlevel.checkpoint()
        if isinstance(answer, Exception):
            raise answer
        if transform is not None:
            return ObjectList(
                items=[transform(item) for item in answer.items], resource_version=answer.resource_version
            )
        return answer

    @asynccontextmanager
    async def watch(
        self,
        resource: Resource,
        *,
        resource_version: str,
        timeout_seconds: int,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        inactivity: float | None = None,
    ) -> AsyncIterator[AsyncIterator[WatchEvent]]:
        self.calls.append(("watch", resource_version))
        if not self._watches:
            self.exhausted.set()
            await anyio.sleep_forever()
        yield self._stream(self._watches.pop(0))

    async def _stream(self, script: WatchScript) -> AsyncIterator[WatchEvent]:
        for entry in script:
            await anyio.lowlevel.checkpoint()
            if isinstance(entry, Exception):
                raise entry
            yield entry


class RecordingHandler:
    """Records ("add" | "update" | "delete", name) for each event it hears."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", obj["metadata"]["name"]))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", new["metadata"]["name"]))

    def on_delete(self, obj: dict[str, Any]) -> None:
        self.events.append(("delete", obj["metadata"]["name"]))
