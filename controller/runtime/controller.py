"""A controller: event sources feeding one rate-limited work-queue, drained by N workers.

Built like controller-runtime's builder, then run inside the caller's task group:

    controller = (
        Controller(name="model", reconciler=ModelReconciler(...), max_concurrent_reconciles=2)
        .for_(models)
        .owns(jobs, owner_kind="Model", owner_group="inference.llmkube.dev")
    )
    await task_group.start(controller.run)

Lifecycle of `run`: wait until every source has synced (so the first reconcile sees a full cache), start the
queue's waiting loop and the workers, report started, then run until cancelled. On cancellation the queue shuts
down with drain: reconciles already running may finish within `shutdown_grace_period` seconds (on the injected
clock) and are cancelled after it; keys still queued are dropped, since the next leader relists everything.

The workers live in a shielded scope precisely so that cancelling `run` does not cancel a reconcile half-way
through its writes; the grace period is what bounds them instead. `abort` is the exception: it cancels running
reconciles at once, for a replica that lost its lease (another one may already be writing the same objects) or
whose manager's own grace period is over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio
import anyio.abc
import structlog
from prometheus_client import CollectorRegistry

from controller.runtime.clock import Clock, MonotonicClock
from controller.runtime.controller_metrics import controller_metrics
from controller.runtime.events import (
    EventHandler,
    EventSource,
    ObjectMapper,
    Predicate,
    enqueue_mapped,
    enqueue_object,
    enqueue_owner,
    generation_changed,
)
from controller.runtime.reconcile_loop import ReconcileLoop, Reconciler
from controller.runtime.request import Request
from controller.runtime.workqueue import RateLimiter, RateLimitingQueue, prometheus_metrics_provider

log = structlog.get_logger(__name__)

DEFAULT_CACHE_SYNC_TIMEOUT = 120.0
DEFAULT_SHUTDOWN_GRACE_PERIOD = 30.0
# How often `run` looks at the sources' has_synced while it waits; the protocol offers no sync event.
SYNC_POLL_INTERVAL = 0.1


class CacheSyncTimeoutError(Exception):
    """The sources did not sync in time; the controller would otherwise reconcile against a partial cache."""


class Controller:
    def __init__(
        self,
        *,
        name: str,
        reconciler: Reconciler,
        max_concurrent_reconciles: int = 1,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        rate_limiter: RateLimiter | None = None,
        cache_sync_timeout: float = DEFAULT_CACHE_SYNC_TIMEOUT,
        shutdown_grace_period: float = DEFAULT_SHUTDOWN_GRACE_PERIOD,
        priority_of: Callable[[Request], int] | None = None,
    ) -> None:
        """`priority_of` ranks each request as it is queued: higher first, FIFO among equals (see the queue)."""
        if max_concurrent_reconciles < 1:
            raise ValueError(f"controller {name!r}: max_concurrent_reconciles must be >= 1")
        self.name = name
        self.max_concurrent_reconciles = max_concurrent_reconciles
        self._clock: Clock = clock or MonotonicClock()
        self._cache_sync_timeout = cache_sync_timeout
        self._shutdown_grace_period = shutdown_grace_period
        # Created now, not in `run`, so events that arrive before the workers start are kept, not lost.
        self.queue: RateLimitingQueue[Request] = RateLimitingQueue(
            name=name,
            clock=self._clock,
            rate_limiter=rate_limiter,
            metrics_provider=prometheus_metrics_provider(registry),
            priority_of=priority_of,
        )
        metrics = controller_metrics(registry)
        metrics.initialise(controller=name, max_concurrent_reconciles=max_concurrent_reconciles)
        self._loop = ReconcileLoop(
            controller=name, queue=self.queue, reconciler=reconciler, clock=self._clock, metrics=metrics
        )
        self._sources: list[EventSource] = []
        self._started = False
        self._aborted = False
        # The shielded scope of the workers while they run; `abort` cancels it.
        self._workers_scope: anyio.CancelScope | None = None

    def for_(
        self, source: EventSource, *, predicates: Sequence[Predicate] = (generation_changed,)
    ) -> Controller:
        """Reconcile each object of the primary kind when it changes.

        By default only spec changes (a new `metadata.generation`) count as updates, so the controller's own
        status writes and resyncs do not wake it; pass `predicates=()` to see every update.
        """
        return self._watch(source, enqueue_object().handler(self.queue, predicates=predicates))

    def owns(
        self, source: EventSource, *, owner_kind: str, owner_group: str, predicates: Sequence[Predicate] = ()
    ) -> Controller:
        """Reconcile the controlling owner (of `owner_kind` in `owner_group`) of each object that changes."""
        mapping = enqueue_owner(owner_kind, owner_group)
        return self._watch(source, mapping.handler(self.queue, predicates=predicates))

    def watches(
        self, source: EventSource, map_fn: ObjectMapper, *, predicates: Sequence[Predicate] = ()
    ) -> Controller:
        """Reconcile whatever `map_fn` names for each object that changes."""
        return self._watch(source, enqueue_mapped(map_fn).handler(self.queue, predicates=predicates))

    def _watch(self, source: EventSource, handler: EventHandler) -> Controller:
        if self._started:
            raise RuntimeError(f"controller {self.name!r}: add sources before it runs")
        source.add_event_handler(handler)
        self._sources.append(source)
        return self

    def abort(self) -> None:
        """Cancel running reconciles now and take no more work, without waiting out the grace period.

        `run` still has to be cancelled by its owner; it then returns at once. Safe to call at any time, also
        before `run` or after it returned.
        """
        if not self._aborted:
            log.warning(
                "aborting; cancelling running reconciles",
                controller=self.name,
                in_flight=self.queue.processing,
            )
        self._aborted = True
        self.queue.shut_down()
        if self._workers_scope is not None:
            self._workers_scope.cancel()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Reconcile until cancelled; reports started once the sources synced and the workers run."""
        if self._started:
            raise RuntimeError(f"controller {self.name!r} already ran; build a new one")
        self._started = True
        await self._wait_for_sync()
        async with anyio.create_task_group() as task_group:
            workers_scope: anyio.CancelScope = await task_group.start(self._run_workers)
            log.info("controller started", controller=self.name, workers=self.max_concurrent_reconciles)
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await self._drain(workers_scope)

    async def _wait_for_sync(self) -> None:
        deadline = self._clock.now() + self._cache_sync_timeout
        while not all(source.has_synced() for source in self._sources):
            now = self._clock.now()
            if now >= deadline:
                raise CacheSyncTimeoutError(
                    f"controller {self.name!r}: caches not synced after {self._cache_sync_timeout:g} s; "
                    "check the informers' list/watch errors and the controller's RBAC"
                )
            await self._clock.sleep_until(min(deadline, now + SYNC_POLL_INTERVAL))

    async def _run_workers(self, *, task_status: anyio.abc.TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope(shield=True) as workers_scope:
            async with anyio.create_task_group() as workers:
                await workers.start(self.queue.run)
                for index in range(self.max_concurrent_reconciles):
                    workers.start_soon(self._loop.work, name=f"{self.name}-worker-{index}")
                self._workers_scope = workers_scope
                if self._aborted:  # aborted while the workers were starting
                    workers_scope.cancel()
                task_status.started(workers_scope)

    async def _drain(self, workers_scope: anyio.CancelScope) -> None:
        """Let running reconciles finish, cancelling those still running when the grace period ends."""
        log.info("controller stopping; draining", controller=self.name, in_flight=self.queue.processing)
        deadline = self._clock.now() + self._shutdown_grace_period

        async def cancel_at_deadline() -> None:
            await self._clock.sleep_until(deadline)
            log.warning(
                "grace period over; cancelling running reconciles",
                controller=self.name,
                in_flight=self.queue.processing,
            )
            workers_scope.cancel()

        async with anyio.create_task_group() as grace:
            grace.start_soon(cancel_at_deadline)
            await self.queue.shut_down_with_drain()
            grace.cancel_scope.cancel()
        self.queue.shut_down()
        log.info("controller stopped", controller=self.name)
