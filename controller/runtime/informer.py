"""The informer: a reflector feeding a store, and the store feeding handlers, in event order.

This is client-go's in-order ("RealFIFO") informer without the FIFO: each event updates the store first and is
then offered to every handler synchronously. That is safe because handlers only compute keys and add them to a
work-queue (whose dirty set does the coalescing); a handler that blocks would stall the watch, so none may.

With a `transform` (see controller.runtime.transform), the reflector trims every object as it arrives, before the
store and before any handler: the cache and the handlers see the same trimmed copy, never the object as sent.

A relist (first sync, or recovery from 410 Gone) is delivered as the difference to the cache: deletions of
objects that vanished first (so a name recreated in between is seen as delete-then-add), then updates, then adds.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus

from api.objects import Object
from controller.kube import Resource, WatchEvent
from controller.kube.watch import ADDED, DELETED, MODIFIED
from controller.runtime.clock import Clock, MonotonicClock
from controller.runtime.events import EventHandler
from controller.runtime.indexer import IndexFunc
from controller.runtime.reflector import ListWatch, Reflector, ReflectorMetrics
from controller.runtime.store import Store, object_key
from controller.runtime.transform import Transform

log = structlog.get_logger(__name__)


class Informer:
    """A watched, indexed cache of one resource in one namespace (or all), with event handlers."""

    def __init__(
        self,
        source: ListWatch,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        resync_period: float | None = None,
        unhealthy_after: float = 60.0,
        page_size: int = 500,
        min_watch_timeout: int = 300,
        inactivity: float | None = None,
        clock: Clock | None = None,
        metrics: ReflectorMetrics | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.resource = resource
        self.transform = transform
        self.namespace = namespace
        self._clock = clock or MonotonicClock()
        self._store = Store()
        for name, func in (indexers or {}).items():
            self._store.add_index(name, func)
        self._handlers: list[EventHandler] = []
        self._resync_period = resync_period
        self._unhealthy_after = unhealthy_after
        self._synced = anyio.Event()
        self._running = False
        self._reflector = Reflector(
            source,
            resource,
            self,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            page_size=page_size,
            min_watch_timeout=min_watch_timeout,
            inactivity=inactivity,
            clock=self._clock,
            metrics=metrics,
            transform=transform,
        )
        self._log = log.bind(resource=str(resource), namespace=namespace or "*")

    @property
    def store(self) -> Store:
        return self._store

    @property
    def reflector(self) -> Reflector:
        return self._reflector

    def add_index(self, name: str, func: IndexFunc) -> None:
        self._store.add_index(name, func)

    def add_event_handler(self, handler: EventHandler) -> None:
        """Register a handler; one added after the first sync hears every cached object as an add."""
        self._handlers.append(handler)
        if self.has_synced():
            for obj in self._store.list():
                self._call(handler.on_add, obj)

    def has_synced(self) -> bool:
        """True once the first LIST has been stored and delivered to handlers."""
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def healthy(self) -> bool:
        """Synced, and the watch is open or was open within `unhealthy_after` seconds (for /readyz)."""
        return self.has_synced() and self._reflector.disconnected_for() < self._unhealthy_after

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """List, watch and dispatch until cancelled; `started` is reported at once, not at sync."""
        if self._running:
            raise RuntimeError(f"informer for {self.resource} is already running")
        self._running = True
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self._reflector.run)
                if self._resync_period:
                    tg.start_soon(self._resync_forever, self._resync_period)
                task_status.started()
        finally:
            self._running = False

    # -- ReflectorSink ----------------------------------------------------------------------------------------

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None:
        diff = self._store.replace(items)
        for obj in diff.deleted:
            self._dispatch_delete(obj)
        for old, new in diff.updated:
            self._dispatch_update(old, new)
        for obj in diff.added:
            self._dispatch_add(obj)
        if not self._synced.is_set():
            self._log.info("cache synced", count=len(self._store), resource_version=resource_version)
            self._synced.set()
        elif diff.deleted or diff.updated or diff.added:
            self._log.info(
                "relist changed the cache",
                deleted=len(diff.deleted),
                updated=len(diff.updated),
                added=len(diff.added),
            )

    def apply(self, event: WatchEvent) -> None:
        obj = event.object
        if event.type in (ADDED, MODIFIED):
            old = self._store.upsert(obj)
            if old is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(old, obj)
        elif event.type == DELETED:
            # The event carries the final state; prefer it over the cached one, which may be older.
            self._store.delete(object_key(obj))
            self._dispatch_delete(obj)
        else:
            self._log.warning("unknown watch event type skipped", type=event.type)

    # -- dispatch ---------------------------------------------------------------------------------------------

    def _dispatch_add(self, obj: Object) -> None:
        for handler in self._handlers:
            self._call(handler.on_add, obj)

    def _dispatch_update(self, old: Object, new: Object) -> None:
        for handler in self._handlers:
            self._call(handler.on_update, old, new)

    def _dispatch_delete(self, obj: Object) -> None:
        for handler in self._handlers:
            self._call(handler.on_delete, obj)

    def _call(self, callback: Any, *args: Object) -> None:
        # A faulty handler must not stop delivery to the others or kill the watch.
        try:
            callback(*args)
        except Exception:
            self._log.exception(
                "event handler failed", handler=type(getattr(callback, "__self__", callback)).__name__
            )

    async def _resync_forever(self, period: float) -> None:
        """Re-offer every cached object as an update, so level-based controllers re-check idle objects."""
        rng = random.Random()
        await self._synced.wait()
        while True:
            await self._clock.sleep_until(self._clock.now() + period * (1.0 + 0.1 * rng.random()))
            for obj in self._store.list():
                self._dispatch_update(obj, obj)
