"""The reflector: keeps a sink equal to the server's state of one resource, forever.

The loop is client-go's ListAndWatch, reduced to what a Python controller needs:

1. LIST, paginated. The first list asks for resourceVersion "0" (served from the apiserver's watch cache, cheap
   at start-up); after a 410 it asks for "" (a consistent read from etcd), because the old version is gone.
   The sink's `replace` turns the snapshot into deletes/updates/adds.
2. WATCH from the list's resourceVersion, never from an object's: objects in a list or in the synthetic
   initial events of a watch are not in version order, so resuming from one can skip events.
   Bookmarks are requested so the version keeps moving while nothing changes, and `timeoutSeconds` is random
   in [5, 10] minutes so that a fleet of watches does not expire together.
3. With a `transform`, every object is trimmed as it arrives: each LIST page's items before the next page is
   read (so a relist of thousands of objects never holds them all untrimmed), each watch event's object
   before the sink sees it.
4. A clean close re-watches from the last version without a list. A silent connection (no bytes, not even a
   bookmark, for the inactivity deadline) is treated the same way. 410 Gone relists. Throttling and broken
   connections back off and re-watch; any other failure backs off and relists.

Nothing escapes this loop but cancellation: an informer that dies quietly is the classic silent-operator bug.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import anyio
import structlog
from anyio.abc import TaskStatus
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from controller.kube import (
    ConnectionFailed,
    Gone,
    KubeError,
    ObjectList,
    RequestTimeout,
    Resource,
    TooManyRequests,
    WatchEvent,
    WatchInactive,
)
from controller.kube.watch import BOOKMARK
from controller.runtime.backoff import Backoff
from controller.runtime.clock import Clock, MonotonicClock
from controller.runtime.transform import Transform

log = structlog.get_logger(__name__)

# A watch that ends this quickly with no events is a symptom (proxy, auth), not a normal close: back off.
_VERY_SHORT_WATCH = 1.0


class ListWatch(Protocol):
    """The two calls a reflector makes; `controller.kube.KubeClient` provides them."""

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        page_size: int = 500,
        transform: Transform | None = None,
    ) -> ObjectList: ...

    def watch(
        self,
        resource: Resource,
        *,
        resource_version: str,
        timeout_seconds: int,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        inactivity: float | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[WatchEvent]]: ...


class ReflectorSink(Protocol):
    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None: ...

    def apply(self, event: WatchEvent) -> None: ...


#: Why a watch stream ended, as `informer_watch_ends_total` labels it.
WATCH_END_REASONS = ("closed", "expired", "inactive", "throttled", "error")


class ReflectorMetrics:
    """Per-resource watch health; `informer_last_event_timestamp_seconds` exposes a frozen watch to alerts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "informer_events_total",
            "Watch events applied to informer caches.",
            ["resource", "type"],
            registry=registry,
        )
        self.lists = Counter(
            "informer_lists_total", "Full LISTs made by reflectors.", ["resource"], registry=registry
        )
        self.watch_ends = Counter(
            "informer_watch_ends_total",
            "Watch streams that ended, by why: closed, expired, inactive, throttled, error.",
            ["resource", "reason"],
            registry=registry,
        )
        self.last_event = Gauge(
            "informer_last_event_timestamp_seconds",
            "Unix time of the last watch event or bookmark received.",
            ["resource"],
            registry=registry,
        )
        self.connected = Gauge(
            "informer_watch_connected", "1 while the watch stream is open.", ["resource"], registry=registry
        )


_default_metrics: ReflectorMetrics | None = None


def default_reflector_metrics() -> ReflectorMetrics:
    """Metrics on the process-wide registry, created once however many informers run."""
    global _default_metrics
    if _default_metrics is None:
        _default_metrics = ReflectorMetrics(REGISTRY)
    return _default_metrics


class Reflector:
    def __init__(
        self,
        source: ListWatch,
        resource: Resource,
        sink: ReflectorSink,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        min_watch_timeout: int = 300,
        inactivity: float | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        metrics: ReflectorMetrics | None = None,
        transform: Transform | None = None,
    ) -> None:
        self._source = source
        self._transform = transform
        self._resource = resource
        self._sink = sink
        self._namespace = namespace
        self._label_selector = label_selector
        self._field_selector = field_selector
        self._page_size = page_size
        self._min_watch_timeout = min_watch_timeout
        self._inactivity = inactivity
        self._clock = clock or MonotonicClock()
        self._backoff = backoff or Backoff(clock=self._clock)
        self._rng = rng or random.Random()
        self._metrics = metrics or default_reflector_metrics()
        self._label = str(resource) + (f"@{namespace}" if namespace else "")
        self._log = log.bind(resource=self._label)
        # Every series of this resource exists from the start, at zero: a dashboard of watch restarts and an
        # alert on relists see "none yet" rather than nothing.
        for reason in WATCH_END_REASONS:
            self._metrics.watch_ends.labels(self._label, reason)
        self._metrics.lists.labels(self._label)
        self._metrics.connected.labels(self._label)
        # The version the next watch resumes from: a LIST snapshot's, or a later event's or bookmark's.
        self._resource_version = ""
        # None while a watch stream is open; otherwise when the reflector last lost (or never had) one.
        self._disconnected_since: float | None = self._clock.now()

    @property
    def connected(self) -> bool:
        return self._disconnected_since is None

    def disconnected_for(self) -> float:
        """Seconds without an open watch stream (0 while connected)."""
        since = self._disconnected_since
        return 0.0 if since is None else max(0.0, self._clock.now() - since)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        list_version = "0"
        while True:
            try:
                await self._list(list_version)
            except Gone as err:
                # The cache cannot serve that version any more; a consistent read always can.
                self._log.info("list version expired; listing from etcd", error=str(err))
                if list_version == "":
                    await self._backoff.wait()  # an expired continue token mid-way through a consistent list
                list_version = ""
                continue
            except Exception as err:
                self._log.warning("list failed", error=str(err), error_type=type(err).__name__)
                await self._backoff.wait()
                continue
            list_version = await self._watch_until_relist()

    async def _list(self, resource_version: str) -> None:
        snapshot = await self._source.list(
            self._resource,
            namespace=self._namespace,
            label_selector=self._label_selector,
            field_selector=self._field_selector,
            resource_version=resource_version,
            page_size=self._page_size,
            transform=self._transform,
        )
        self._metrics.lists.labels(self._label).inc()
        self._sink.replace(snapshot.items, snapshot.resource_version)
        self._resource_version = snapshot.resource_version
        self._log.debug("listed", count=len(snapshot.items), resource_version=snapshot.resource_version)

    async def _watch_until_relist(self) -> str:
        """Watch and re-watch until a relist is needed; returns the resourceVersion to list with."""
        while True:
            started = self._clock.now()
            try:
                events = await self._watch_once()
            except Gone as err:
                self._end("expired", err)
                return ""
            except WatchInactive as err:
                self._end("inactive", err)
                continue
            except (TooManyRequests, ConnectionFailed, RequestTimeout) as err:
                self._end("throttled" if isinstance(err, TooManyRequests) else "error", err)
                await self._backoff.wait()
                continue
            except Exception as err:
                self._end("error", err)
                await self._backoff.wait()
                return self._resource_version
            self._end("closed", None)
            if events == 0 and self._clock.now() - started < _VERY_SHORT_WATCH:
                await self._backoff.wait()

    async def _watch_once(self) -> int:
        timeout = self._rng.randint(self._min_watch_timeout, 2 * self._min_watch_timeout)
        count = 0
        events_by_type: dict[str, Any] = {}
        last_event = self._metrics.last_event.labels(self._label)
        try:
            async with self._source.watch(
                self._resource,
                resource_version=self._resource_version,
                timeout_seconds=timeout,
                namespace=self._namespace,
                label_selector=self._label_selector,
                field_selector=self._field_selector,
                inactivity=self._inactivity,
            ) as stream:
                self._disconnected_since = None
                self._metrics.connected.labels(self._label).set(1)
                async for event in stream:
                    count += 1
                    last_event.set_to_current_time()
                    counter = events_by_type.get(event.type)
                    if counter is None:
                        counter = events_by_type[event.type] = self._metrics.events.labels(
                            self._label, event.type
                        )
                    counter.inc()
                    if event.type != BOOKMARK:
                        if self._transform is not None:
                            event = WatchEvent(type=event.type, object=self._transform(event.object))
                        self._sink.apply(event)
                    version = event.resource_version
                    if version:
                        self._resource_version = version
        finally:
            if self._disconnected_since is None:
                self._disconnected_since = self._clock.now()
            self._metrics.connected.labels(self._label).set(0)
        return count

    def _end(self, reason: str, err: BaseException | None) -> None:
        self._metrics.watch_ends.labels(self._label, reason).inc()
        if err is None:
            self._log.debug("watch closed; resuming", resource_version=self._resource_version)
        elif isinstance(err, KubeError | TimeoutError):
            self._log.info(
                "watch ended", reason=reason, error=str(err), resource_version=self._resource_version
            )
        else:
            self._log.error("watch failed", reason=reason, error=repr(err), exc_info=err)
